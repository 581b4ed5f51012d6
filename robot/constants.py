"""Physical constants the controller uses, each defined once with its source."""

from __future__ import annotations

__all__ = ["LUNAR_GRAVITY_MPS2"]

LUNAR_GRAVITY_MPS2 = 1.62
"""Mean lunar surface gravity, in m/s².

Source: NASA GSFC Moon Fact Sheet (D. R. Williams,
https://nssdc.gsfc.nasa.gov/planetary/factsheet/moonfact.html), "Surface gravity (m/s^2) 1.62".
"""
