"""Fit Gunther's Universal Scalability Law to (pool size, throughput) points.

    X(N) = λ·N / (1 + σ·(N − 1) + κ·N·(N − 1))

σ (contention, 0 ≤ σ ≤ 1) is the serial fraction; κ (coherency, ≥ 0) the cost of workers
coordinating with one another, which makes throughput fall past the peak

    N* = sqrt((1 − σ) / κ)          (infinite when κ = 0: throughput only plateaus).

How the fit works, and why:

- The noise of a throughput measurement is multiplicative (a CV of a few percent whatever the
  level), so the fit minimises *relative* residuals ``Σ ((X_i − X̂_i) / X_i)²``.  Plain least
  squares would let the largest throughputs dominate.
- For fixed (σ, κ) the model is linear in λ, so λ has a closed form (``λ = Σ h_i / Σ h_i²``
  with ``h_i = g_i / X_i``, ``g_i = N_i / (1 + σ(N_i − 1) + κN_i(N_i − 1))``).  Eliminating
  λ leaves a two-parameter problem ("variable projection").
- That problem is solved on a coarse grid over σ ∈ [0, 1] and κ ∈ {0} ∪ [1e-7, 1] (log
  spaced), vectorised in numpy; the best grid point with κ > 0 and the best with κ = 0 then
  start a projected Levenberg–Marquardt refinement of (λ, σ, κ) (σ clipped to [0, 1], κ to
  >= 0; the second keeps κ = 0), and the lower loss wins.  σ and κ are strongly correlated
  (a long diagonal valley), which is why a coordinate search is not enough.  The grid makes the fit
  immune to the local minima and sign problems of the usual linearisation
  (``N/X`` as a quadratic in ``N − 1``, which can return negative σ or κ on noisy data and
  weighs points badly), and the constraints σ, κ ≥ 0 hold by construction.  With at most
  a few dozen points the whole fit takes a few milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import SearchError

__all__ = ["USLFit", "fit_usl", "usl_throughput"]

_SIGMA_GRID = np.linspace(0.0, 1.0, 101)
_LOG_KAPPA_LOW, _LOG_KAPPA_HIGH = -7.0, 0.0
_KAPPA_GRID = np.concatenate(([0.0], np.logspace(_LOG_KAPPA_LOW, _LOG_KAPPA_HIGH, 141)))


def usl_throughput(n: np.ndarray | float, lam: float, sigma: float, kappa: float) -> np.ndarray:
    """``λN / (1 + σ(N−1) + κN(N−1))`` elementwise."""
    n = np.asarray(n, dtype=float)
    return lam * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))


@dataclass(frozen=True, slots=True)
class USLFit:
    """A fitted Universal Scalability Law.

    Attributes
    ----------
    lam : float
        λ, the throughput of one worker as the model sees it (tasks/s).
    sigma : float
        σ, contention, in [0, 1].
    kappa : float
        κ, coherency delay, >= 0.
    r2 : float
        Coefficient of determination of the fitted throughputs (1 is perfect).
    rms_relative_error : float
        Root mean square of the relative residuals (0.03 reads "within about 3%").
    n_points : int
        Points fitted.
    """

    lam: float
    sigma: float
    kappa: float
    r2: float
    rms_relative_error: float
    n_points: int

    @property
    def n_star(self) -> float:
        """The peak ``sqrt((1 − σ)/κ)``, at least 1; ``inf`` when κ = 0."""
        if self.kappa <= 0.0:
            return math.inf
        return max(1.0, math.sqrt(max(0.0, 1.0 - self.sigma) / self.kappa))

    def predict(self, n: np.ndarray | float) -> np.ndarray:
        """Predicted throughput at pool size(s) ``n``."""
        return usl_throughput(n, self.lam, self.sigma, self.kappa)

    def best_size(self, low: int, high: int) -> int:
        """The integer pool size in ``[low, high]`` with the highest predicted throughput."""
        sizes = np.arange(int(low), int(high) + 1)
        if sizes.size == 0:
            raise SearchError(f"empty pool size range {low}..{high}")
        return int(sizes[int(np.argmax(self.predict(sizes)))])

    def describe(self) -> str:
        """One sentence for explanations and reports."""
        peak = "no peak (κ=0)" if math.isinf(self.n_star) else f"N*={self.n_star:.1f}"
        return (
            f"USL fit λ={self.lam:.4g}/s σ={self.sigma:.3f} κ={self.kappa:.2g}: {peak} "
            f"(R²={self.r2:.3f}, {self.n_points} points, rms error "
            f"{100 * self.rms_relative_error:.1f}%)"
        )


def _check(n: Sequence[float], x: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    try:
        ns = np.asarray(n, dtype=float)
        xs = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise SearchError(f"USL fit needs numbers: {exc}") from exc
    if ns.ndim != 1 or xs.ndim != 1 or ns.shape != xs.shape:
        raise SearchError(
            f"USL fit needs two flat sequences of equal length, got shapes {ns.shape}, {xs.shape}"
        )
    if not (np.all(np.isfinite(ns)) and np.all(np.isfinite(xs))):
        raise SearchError("USL fit got NaN or infinity among the points")
    if np.any(ns < 1):
        raise SearchError(f"pool sizes must be >= 1, got {ns[ns < 1].tolist()}")
    if np.any(xs <= 0):
        raise SearchError(
            f"throughputs must be positive, got {xs[xs <= 0].tolist()}: "
            "leave failed trials out of the fit"
        )
    distinct = np.unique(ns).size
    if distinct < 3:
        raise SearchError(
            f"USL fit needs at least 3 distinct pool sizes (σ, κ and λ are three unknowns), "
            f"got {distinct}: measure more sizes"
        )
    return ns, xs


def _loss(ns: np.ndarray, xs: np.ndarray, sigma: np.ndarray, kappa: np.ndarray) -> np.ndarray:
    """Relative sum of squares with λ projected out; broadcasts over sigma/kappa arrays."""
    sigma = np.asarray(sigma, dtype=float)[..., None]
    kappa = np.asarray(kappa, dtype=float)[..., None]
    h = ns / (1.0 + sigma * (ns - 1.0) + kappa * ns * (ns - 1.0)) / xs
    s1 = h.sum(axis=-1)
    s2 = (h * h).sum(axis=-1)
    return ns.size - s1 * s1 / s2


def _lam(ns: np.ndarray, xs: np.ndarray, sigma: float, kappa: float) -> float:
    h = ns / (1.0 + sigma * (ns - 1.0) + kappa * ns * (ns - 1.0)) / xs
    return float(h.sum() / (h * h).sum())


def _levenberg_marquardt(
    ns: np.ndarray, xs: np.ndarray, start: tuple[float, float, float], free: tuple[bool, ...]
) -> tuple[float, tuple[float, float, float]]:
    """Projected Levenberg–Marquardt on the relative residuals over (λ, σ, κ).

    Parameters outside ``free`` stay at their start value; after each step σ is clipped to
    [0, 1] and κ to >= 0 (a projected step, accepted only if the loss falls).
    """
    mask = np.array(free, dtype=float)
    params = np.array(start, dtype=float)

    def residuals(p: np.ndarray) -> np.ndarray:
        return 1.0 - usl_throughput(ns, *p) / xs

    def project(p: np.ndarray) -> np.ndarray:
        return np.array([max(p[0], 1e-300), min(max(p[1], 0.0), 1.0), max(p[2], 0.0)])

    r = residuals(params)
    loss = float(r @ r)
    damping = 1e-3
    for _ in range(200):
        lam, sigma, kappa = params
        d = 1.0 + sigma * (ns - 1.0) + kappa * ns * (ns - 1.0)
        jac = np.stack(
            [ns / d, -lam * ns * (ns - 1.0) / d**2, -lam * ns * ns * (ns - 1.0) / d**2], axis=1
        )
        jac = -jac / xs[:, None] * mask
        jtj = jac.T @ jac
        grad = jac.T @ r
        improved = False
        while damping < 1e12:
            a = jtj + damping * np.diag(np.diag(jtj) + 1e-12) + np.diag(1.0 - mask)
            try:
                step = np.linalg.solve(a, -grad)
            except np.linalg.LinAlgError:
                damping *= 10.0
                continue
            trial = project(params + step * mask)
            r_trial = residuals(trial)
            loss_trial = float(r_trial @ r_trial)
            if loss_trial < loss:
                converged = loss - loss_trial <= 1e-15 * max(loss, 1e-300)
                params, r, loss = trial, r_trial, loss_trial
                damping = max(damping / 3.0, 1e-12)
                improved = True
                break
            damping *= 4.0
        if not improved or converged:
            break
    return loss, (float(params[0]), float(params[1]), float(params[2]))


def fit_usl(n: Sequence[float], x: Sequence[float]) -> USLFit:
    """Fit the USL to pool sizes ``n`` and measured throughputs ``x`` (σ, κ >= 0).

    Repeated sizes are fine (pass every repeat, or means).  See the module docstring for
    the method.

    Raises
    ------
    SearchError
        Fewer than 3 distinct sizes, a size below 1, a non-positive or non-finite
        throughput, or mismatched lengths.
    """
    ns, xs = _check(n, x)
    grid = _loss(ns, xs, _SIGMA_GRID[:, None], _KAPPA_GRID[None, :])
    # Refine both the best point with κ > 0 and the best with κ = 0: a tiny κ barely moves
    # the loss on the grid, so the κ = 0 column can win there and still lose after refining.
    i, j = np.unravel_index(int(np.argmin(grid[:, 1:])), grid[:, 1:].shape)
    sigma0, kappa0 = float(_SIGMA_GRID[i]), float(_KAPPA_GRID[j + 1])
    sigma_flat = float(_SIGMA_GRID[int(np.argmin(grid[:, 0]))])

    candidates = [
        _levenberg_marquardt(
            ns, xs, (_lam(ns, xs, sigma0, kappa0), sigma0, kappa0), (True, True, True)
        ),
        _levenberg_marquardt(
            ns, xs, (_lam(ns, xs, sigma_flat, 0.0), sigma_flat, 0.0), (True, True, False)
        ),
    ]
    _, (lam, sigma, kappa) = min(candidates)
    fitted = usl_throughput(ns, lam, sigma, kappa)
    rel = (xs - fitted) / xs
    ss_res = float(((xs - fitted) ** 2).sum())
    ss_tot = float(((xs - xs.mean()) ** 2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res <= 1e-12 * xs.mean() ** 2 else 0.0)
    return USLFit(lam, sigma, kappa, r2, float(np.sqrt(np.mean(rel * rel))), int(ns.size))
