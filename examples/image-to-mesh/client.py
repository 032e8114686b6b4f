#!/usr/bin/env python3
"""The image-to-mesh example's client: uploads a picture to vramq, follows the job live (its
state and progress), and downloads the mesh. Needs only the standard library and vramq's Python
client (pip install ./python, or run from a vramq checkout).

    python3 examples/image-to-mesh/client.py cat.png --out cat.obj [--server URL] [--token T]
"""
import argparse
import os
import sys

try:
    import vramq
except ImportError:  # run from a vramq checkout
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    import vramq


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("--out", default="mesh.obj")
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--depth", type=float, default=0.15)
    parser.add_argument("--server", default=os.environ.get("VRAMQ_SERVER", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("VRAMQ_TOKEN"))
    args = parser.parse_args()

    vq = vramq.Client(args.server, token=args.token)
    try:
        job = vq.submit("image-to-mesh", params={"resolution": args.resolution, "depth": args.depth},
                        files={"image": args.image})
        print(f"job {job.id}: {job.state}", flush=True)
        shown = None
        for event, data, _ in job.events():
            if event != "job":
                continue
            progress = data.get("progress") or {}
            line = data["state"]
            if progress.get("fraction") is not None:
                line += f" {100 * progress['fraction']:.0f}% {progress.get('message') or ''}".rstrip()
            if line != shown:
                print(f"job {job.id}: {line}", flush=True)
                shown = line
        job.refresh()
        if job.state != "succeeded":
            print(f"job {job.id} {job.state}: {job.error}", file=sys.stderr)
            return 1
        job.download("mesh.obj", args.out)
        print(f"job {job.id}: {job.output.strip()} -> {args.out}")
        return 0
    except vramq.VramqError as e:
        print(f"vramq: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
