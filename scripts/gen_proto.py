"""Generate the protobuf modules of keyless's gRPC adapter from its .proto files.

    .venv/bin/python scripts/gen_proto.py           # rewrite src/keyless/grpc/proto/*_pb2.py(i)
    .venv/bin/python scripts/gen_proto.py --check   # exit 1 when the checked-in modules differ

The generated modules are checked in, so serving needs only the protobuf runtime, not protoc. The
generator is grpcio-tools, pinned in the dev extra, so the output is reproducible; a test runs
``--check`` so a .proto edit without regeneration fails CI.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PROTO_DIR = SRC / "keyless" / "grpc" / "proto"


def generate(out: Path) -> list[Path]:
    """Run protoc for every .proto; return the generated files (relative to ``out``)."""
    protos = sorted(p.relative_to(SRC).as_posix() for p in PROTO_DIR.glob("*.proto"))
    # The include root is src/, so descriptors are registered as keyless/grpc/proto/<name>.proto: a name
    # no other package uses, which keeps them apart from any copy the Scalekit SDKs register.
    args = ["protoc", f"-I{SRC}", f"--python_out={out}", f"--pyi_out={out}", *protos]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted(p.relative_to(out) for p in out.rglob("*_pb2.py*"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        stale = []
        for rel in generate(out):
            fresh = (out / rel).read_bytes()
            target = SRC / rel
            if target.exists() and target.read_bytes() == fresh:
                continue
            stale.append(rel.as_posix())
            if not args.check:
                target.write_bytes(fresh)
    if args.check and stale:
        print("out of date (run scripts/gen_proto.py):", *stale, sep="\n  ", file=sys.stderr)
        return 1
    for name in stale:
        print("wrote", name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
