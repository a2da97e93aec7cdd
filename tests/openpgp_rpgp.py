# The rPGP side of tests/openpgp_interop.rs (Python binding `rpgp-py`).
#   gen OUT DATA TEXT        make v6 keys (and v4 ones, Ed25519 in the RFC 9580 and in the
#                            legacy encoding) and their signatures in OUT; print
#                            "NAME PRIMARY-FINGERPRINT" per key. The secret keys stay in memory.
#   verify CERT SIG DATA     exit 0 when rPGP verifies the detached signature
#   verify-clear CERT FILE   exit 0 when rPGP verifies the cleartext message
import os, sys, time
from openpgp import _openpgp as o

class Rng:
    def randbytes(self, n):
        return os.urandom(n)

def gen(out, data_path, text_path):
    data = open(data_path, "rb").read()
    text = open(text_path, "rb").read()
    created = int(time.time()) - 86400
    for name, version, kt, sub, h in [
        ("v6-ed25519", 6, o.KeyType.ed25519(), None, "sha256"),
        ("v6-ed25519-subkey", 6, o.KeyType.ed25519(), o.KeyType.ed25519(), "sha512"),
        ("v6-rsa3072", 6, o.KeyType.rsa(3072), None, "sha512"),
        ("v6-p256", 6, o.KeyType.ecdsa("p256"), None, "sha384"),
        ("v4-ed25519", 4, o.KeyType.ed25519(), None, "sha256"),
        ("v4-ed25519-legacy", 4, o.KeyType.ed25519_legacy(), None, "sha256"),
    ]:
        b = (o.SecretKeyParamsBuilder().version(version).key_type(kt).can_sign(sub is None)
             .can_certify(True).primary_user_id(f"<{name}@example.org>").created_at(created))
        if sub is not None:
            b = b.subkey(o.SubkeyParamsBuilder().version(version).key_type(sub).can_sign(True)
                         .created_at(created).build())
        k = b.generate()
        signer = k.secret_subkeys[0] if sub is not None else k
        p = lambda ext: os.path.join(out, f"{name}.{ext}")
        open(p("cert"), "wb").write(k.to_public_key().to_bytes())
        open(p("sig"), "wb").write(o.DetachedSignature.sign_binary_data(Rng(), signer, None, h, data).to_bytes())
        open(p("text.asc"), "w").write(o.DetachedSignature.sign_text_data(Rng(), signer, None, h, text).to_armored())
        open(p("clear.asc"), "w").write(o.CleartextSignedMessage.sign(text.decode(), signer, None, h).to_armored())
        print(name, k.fingerprint.upper())
    # A certification-only primary with an authentication-only subkey: rPGP signs with
    # either all the same (the key flags say neither may).
    k = (o.SecretKeyParamsBuilder().version(4).key_type(o.KeyType.ed25519_legacy())
         .can_sign(False).can_certify(True).primary_user_id("<no-sign@example.org>")
         .created_at(created)
         .subkey(o.SubkeyParamsBuilder().version(4).key_type(o.KeyType.ed25519_legacy())
                 .can_sign(False).can_authenticate(True).created_at(created).build())
         .generate())
    p = lambda ext: os.path.join(out, f"v4-no-sign-flag.{ext}")
    open(p("cert"), "wb").write(k.to_public_key().to_bytes())
    open(p("primary.sig"), "wb").write(o.DetachedSignature.sign_binary_data(Rng(), k, None, "sha256", data).to_bytes())
    open(p("subkey.sig"), "wb").write(o.DetachedSignature.sign_binary_data(Rng(), k.secret_subkeys[0], None, "sha256", data).to_bytes())

def cert(path):
    return o.SignedPublicKey.from_bytes(open(path, "rb").read())

def main():
    mode = sys.argv[1]
    try:
        if mode == "gen":
            gen(*sys.argv[2:5])
        elif mode == "verify":
            raw = open(sys.argv[3], "rb").read()
            if raw.startswith(b"-----"):
                sig = o.DetachedSignature.from_armor(raw.decode())[0]
            else:
                sig = o.DetachedSignature.from_bytes(raw)
            sig.verify(cert(sys.argv[2]), open(sys.argv[4], "rb").read())
        elif mode == "verify-clear":
            msg = o.CleartextSignedMessage.from_armor(open(sys.argv[3]).read())[0]
            msg.verify(cert(sys.argv[2]))
    except Exception as e:
        print(f"rpgp: {e}", file=sys.stderr)
        sys.exit(1)

main()
