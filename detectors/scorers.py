"""The ensemble's scorers and their common probability scale, as plain vectorised functions.

Each scorer turns a point and its series' running state into a signed z: how many robust
standard deviations the point sits from what that scorer expected. They are biased
differently on purpose (see :mod:`detectors.ensemble`): a level, a rate of change, and a
spread. The seasonal scorer is :class:`detectors.seasonal.SeasonalBaseline` itself.

A z means something only once the spread it is measured in is known. While a series is
young its spread is estimated from few points, so :func:`young_z` shrinks the z by the
uncertainty of that estimate (confidence widens while young) instead of waiting silently.

:func:`point_surprise` puts every scorer on one scale, ``-log10`` of the two-sided normal
tail probability; :func:`null_surprise_moments` gives that scale's mean and variance when
nothing is wrong, the prior the per-series anomaly likelihood starts from.

>>> z = np.array([0.0, 2.0, 5.0])
>>> [round(float(x), 2) for x in point_surprise(z)]
[0.0, 1.34, 6.24]
>>> [round(float(x), 2) for x in young_z(np.array([4.0, 4.0]), np.array([5, 500]), 10.0)]
[2.31, 3.96]
"""

from __future__ import annotations

import numpy as np

from detectors.base import FloatArray, IntArray
from detectors.postprocess import tail_surprise

GAUSS_MAD = 1.2533  # sigma / E|r| for a normal residual
_LOG10_2 = float(np.log10(2.0))
_LN10 = float(np.log(10.0))


def young_z(z: FloatArray, n: IntArray, young: float) -> FloatArray:
    """Shrink ``z`` by ``sqrt(n / (n + young))``: a spread from ``n`` points is uncertain.

    It is the widening a Student-t interval shows over a normal one, in closed form and
    without a per-point t-distribution call; from a few hundred points on it is nil.
    """
    nn = np.maximum(n, 1).astype(np.float64)
    out: FloatArray = z * np.sqrt(nn / (nn + young))
    return out


def point_surprise(z: FloatArray) -> FloatArray:
    """``-log10`` of the two-sided normal tail beyond ``|z|`` (0 at the mean)."""
    out: FloatArray = np.maximum(tail_surprise(np.abs(z)) - _LOG10_2, 0.0)
    return out


def null_surprise_moments(short_alpha: float) -> tuple[float, float]:
    """Mean and variance of an EWMA (weight ``short_alpha``) of point surprises under H0.

    Under H0 the tail probability is uniform, so ``-ln p`` is Exp(1) and ``-log10 p`` has
    mean ``1/ln 10`` and variance ``1/ln(10)**2``; an EWMA keeps the mean and scales the
    variance by ``a / (2 - a)``.

    >>> [round(x, 4) for x in null_surprise_moments(1.0)]
    [0.4343, 0.1886]
    """
    mean = 1.0 / _LN10
    var = (1.0 / _LN10) ** 2 * short_alpha / (2.0 - short_alpha)
    return mean, var


def robust_step(loc: FloatArray, spread: FloatArray, x: FloatArray, n: IntArray,
                alpha: float, scale_alpha: float, clip_z: float, warm: int
                ) -> tuple[FloatArray, FloatArray]:
    """One Huber-style update of a running location and mean absolute deviation.

    The residual is clipped at ``clip_z`` robust sigmas once ``warm`` points are in, so an
    outlier barely moves the location it is judged against, while a persistent shift walks
    it over. A NaN location (a series' first point) becomes the point.

    >>> loc, mad = robust_step(np.array([10.0]), np.array([1.0]), np.array([100.0]),
    ...                        np.array([50]), 0.1, 0.05, 4.0, 10)
    >>> round(float(loc[0]), 3), round(float(mad[0]), 3)
    (10.501, 1.201)
    """
    first = np.isnan(loc)
    base = np.where(first, x, loc)
    r = x - base
    lim = np.where(n >= warm, clip_z * GAUSS_MAD * spread, np.inf)
    rc = np.clip(r, -lim, lim)
    a = np.maximum(alpha, 1.0 / (n + 1.0))
    sa = np.maximum(scale_alpha, 1.0 / (n + 1.0))
    new_loc: FloatArray = base + a * rc
    new_spread: FloatArray = np.where(first, spread, spread + sa * (np.abs(rc) - spread))
    return new_loc, new_spread


def spread_z(short_var: FloatArray, sigma: FloatArray, dof: float) -> FloatArray:
    """z of a short-term variance against the long-run sigma (Wilson-Hilferty).

    ``short_var / sigma**2`` is about chi-square over ``dof`` when the spread is unchanged;
    the cube root of that ratio is close to normal, so the result is a signed z: positive
    when the series became noisier, negative when it went unusually still.

    >>> round(float(spread_z(np.array([1.0]), np.array([1.0]), 20.0)[0]), 2)
    0.11
    >>> bool(spread_z(np.array([9.0]), np.array([1.0]), 20.0)[0] > 5)
    True
    """
    ratio = short_var / np.maximum(sigma * sigma, 1e-300)
    c = 2.0 / (9.0 * dof)
    out: FloatArray = (np.cbrt(ratio) - (1.0 - c)) / np.sqrt(c)
    return out

