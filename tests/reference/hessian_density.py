"""References for Lanczos and the SLQ density (Tests/AnalysisTests/HessianLanczosTests.swift).

Eigenvalues (numpy's LAPACK eigh): a random symmetric 24×24 matrix, and a random tridiagonal matrix T
with the squared first components of its eigenvectors (the SLQ weights).

The broadening:
A numpy re-implementation of PyHessian's density_plot.density_generate (written from its description,
not copied): every node θ of run i becomes a Gaussian of variance s = sigma_squared·max(1, λmax − λmin)
weighted by its weight, on num_bins points of np.linspace(λmin, λmax) where λmax (λmin) is the mean over
runs of each run's largest (smallest) node ± overhead; the runs are averaged and the result divided by
Σ density · Δgrid. Two cases: a spread spectrum (range > 1) and a narrow one (range < 1, where the
max(1, ·) floor sets the variance), both on 500 bins (PyHessian's default is 10000; the code path is the
same). Writes Tests/AnalysisTests/Fixtures/hessian-density.json.

    python3 tests/reference/hessian_density.py
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "Tests", "AnalysisTests", "Fixtures", "hessian-density.json")


def density_generate(nodes, weights, num_bins, sigma_squared=1e-5, overhead=0.01):
    nodes = np.asarray(nodes, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    hi = np.mean(nodes.max(axis=1)) + overhead
    lo = np.mean(nodes.min(axis=1)) - overhead
    grid = np.linspace(lo, hi, num=num_bins)
    var = sigma_squared * max(1.0, hi - lo)
    # (runs, bins, nodes)
    g = np.exp(-(nodes[:, None, :] - grid[None, :, None]) ** 2 / (2.0 * var)) / np.sqrt(2 * np.pi * var)
    per_run = (g * weights[:, None, :]).sum(axis=2)
    density = per_run.mean(axis=0)
    density = density / (density.sum() * (grid[1] - grid[0]))
    return grid, density, var


def case(name, nodes, weights, bins=500):
    grid, density, var = density_generate(nodes, weights, bins)
    return {"name": name, "nodes": nodes, "weights": weights, "bins": bins,
            "grid": grid.tolist(), "density": density.tolist(), "variance": var}


def main():
    rng = np.random.default_rng(20261204)
    spread_nodes, spread_weights = [], []
    for _ in range(3):
        nodes = np.sort(np.concatenate([rng.normal(0, 0.3, 5), [rng.uniform(8, 12), rng.uniform(25, 28)]]))
        w = rng.uniform(0.1, 1, nodes.size)
        spread_nodes.append(nodes.tolist()); spread_weights.append((w / w.sum()).tolist())
    narrow_nodes = [[-0.2, -0.05, 0.0, 0.01, 0.3], [-0.18, -0.02, 0.0, 0.05, 0.25]]
    narrow_weights = [[0.1, 0.2, 0.4, 0.2, 0.1], [0.05, 0.25, 0.3, 0.3, 0.1]]
    out = {"cases": [case("spread", spread_nodes, spread_weights), case("narrow", narrow_nodes, narrow_weights)]}
    a = rng.normal(size=(24, 24))
    a = (a + a.T) / 2
    out["matrix"] = {"n": 24, "a": a.ravel().tolist(), "eigenvalues": np.linalg.eigvalsh(a).tolist()}
    alphas, betas = rng.normal(size=12), rng.uniform(0.1, 1.5, size=11)
    t = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
    vals, vecs = np.linalg.eigh(t)
    out["tridiagonal"] = {"alphas": alphas.tolist(), "betas": betas.tolist(), "eigenvalues": vals.tolist(),
                          "first_components_squared": (vecs[0, :] ** 2).tolist()}
    with open(OUT, "w") as f:
        json.dump(out, f)
    print(f"wrote {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
