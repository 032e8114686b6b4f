"""The image-to-mesh example (examples/image-to-mesh, issue 25 item 4) as a user runs it: vramq
serving the example's catalog on a simulated GPU, its client uploading a real picture (made
with Pillow), following the job and downloading the mesh; the mesh is checked against the
picture (grid size, triangles, heights from its brightness)."""
import subprocess
import sys

import pytest

from conftest import REPO, SLOW

Image = pytest.importorskip("PIL.Image")

EXAMPLE = REPO / "examples" / "image-to-mesh"


def test_a_picture_becomes_a_mesh(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--tasks", str(EXAMPLE / "tasks.toml"))
    picture = Image.new("L", (80, 40))
    for x in range(80):
        for y in range(40):
            picture.putpixel((x, y), 255 if x >= 40 else 0)  # right half white
    picture.convert("RGB").save(tmp_path / "half.jpg", quality=95)
    out = tmp_path / "half.obj"
    r = subprocess.run([sys.executable, str(EXAMPLE / "client.py"), str(tmp_path / "half.jpg"),
                        "--out", str(out), "--resolution", "21", "--depth", "0.5",
                        "--server", s.url], capture_output=True, text=True, timeout=60 * SLOW)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "job 1: succeeded" in r.stdout, r.stdout
    lines = out.read_text().splitlines()
    vertices = [tuple(map(float, line.split()[1:])) for line in lines if line.startswith("v ")]
    faces = [tuple(map(int, line.split()[1:])) for line in lines if line.startswith("f ")]
    assert len(vertices) == 21 * 11 and len(faces) == 2 * 20 * 10
    assert all(1 <= i <= len(vertices) for f in faces for i in f)
    left = [z for x, _, z in vertices if x < 0.45]
    right = [z for x, _, z in vertices if x > 0.55]
    assert max(left) < 0.05 and min(right) > 0.45, (max(left), min(right))
    # A file that is no picture is refused by the server before the worker sees it.
    (tmp_path / "notes.png").write_text("not a picture\n")
    r = subprocess.run([sys.executable, str(EXAMPLE / "client.py"), str(tmp_path / "notes.png"),
                        "--server", s.url], capture_output=True, text=True, timeout=60 * SLOW)
    assert r.returncode == 1 and "415" in r.stderr and "params.image" not in r.stdout, r.stderr
