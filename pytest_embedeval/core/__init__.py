"""Layer 1, core: leaves every other layer may use (atomic files, environment, hub probe, lock, fingerprints).

Nothing here imports pytest, torch or any other layer of the package.
"""
