"""The image-to-mesh example's warm worker: loads its "model" once, then turns each uploaded
picture into a mesh (mesh.obj in the job's directory): a grid over the picture whose height is
the brightness of each point, two triangles per cell. Reports progress as it writes the mesh.
A real model (TripoSR, Pixel2Mesh) would load its weights onto the GPU in setup() instead."""
import os
import sys
import time

try:
    from vramq_worker import Worker, serve
except ImportError:  # run from a vramq checkout: the helper is in python/
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    from vramq_worker import Worker, serve


class ImageToMesh(Worker):
    def setup(self):
        import numpy
        from PIL import Image
        self.np, self.Image = numpy, Image
        time.sleep(0.5)  # stands for loading a model's weights, once per worker

    def run(self, params, job_dir):
        np, Image = self.np, self.Image
        with Image.open(params["image"]) as picture:
            gray = picture.convert("L")
        resolution = int(params["resolution"])
        width, height = gray.size
        scale = (resolution - 1) / max(width, height, 1)
        nx, ny = max(2, round(width * scale) + 1), max(2, round(height * scale) + 1)
        heights = np.asarray(gray.resize((nx, ny), Image.BILINEAR), dtype=np.float64) / 255.0
        heights *= float(params["depth"])
        self.progress(0.1, f"{nx}x{ny} grid")
        step = 1.0 / (max(nx, ny) - 1)
        path = os.path.join(job_dir, "mesh.obj")
        with open(path, "w") as out:
            out.write(f"# image-to-mesh: {nx}x{ny} height field\n")
            for row in range(ny):
                self.check_cancelled()
                y = (ny - 1 - row) * step
                out.writelines(f"v {col * step:.6f} {y:.6f} {heights[row, col]:.6f}\n"
                               for col in range(nx))
                if row % max(1, ny // 10) == 0:
                    self.progress(0.1 + 0.6 * row / ny, "vertices")
            for row in range(ny - 1):
                self.check_cancelled()
                for col in range(nx - 1):
                    a = row * nx + col + 1  # OBJ counts from 1
                    b, c, d = a + 1, a + nx, a + nx + 1
                    out.write(f"f {a} {c} {b}\nf {b} {c} {d}\n")
                if row % max(1, ny // 10) == 0:
                    self.progress(0.7 + 0.3 * row / ny, "faces")
        self.progress(1.0, "done")
        return {"mesh": "mesh.obj", "vertices": nx * ny, "faces": 2 * (nx - 1) * (ny - 1)}


if __name__ == "__main__":
    serve(ImageToMesh())
