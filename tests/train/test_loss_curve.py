"""The shared run scaffolding (train/run.py) keeps the supervised loop's numbers: the first steps of
``configs/demosaic/default.yaml`` give the loss curve recorded before the scaffolding was extracted
from train/supervised.py (commit 228da92; 300 steps matched to the last digit on this machine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import DATA

pytest.importorskip("lightning_fabric")

#: train/loss at logged steps, recorded at commit 228da92 with
#: ``restorekit train configs/demosaic/default.yaml --set run.log_every=10 --max-steps 300``
BEFORE = {
    10: 0.01686813123524189,
    20: 0.015124852769076824,
    30: 0.010895181447267532,
    40: 0.013058648444712162,
    50: 0.01662944070994854,
}


@pytest.mark.slow
def test_default_demosaic_config_reproduces_its_loss_curve(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from restorekit.train import run_config

    if not (DATA / "train/color/CBSD432").is_dir():
        pytest.skip("CBSD432 not found")
    overrides = {
        "run.out": str(tmp_path / "run"),
        "run.log_every": 10,
        "run.validate_every": 100000,
        "data.train": str(DATA / "train/color/CBSD432"),
    }
    config = Path(__file__).resolve().parents[2] / "configs/demosaic/default.yaml"
    run_config(config, overrides=overrides, progress=False, max_steps=50)
    acc = EventAccumulator(str(tmp_path / "run/tb"))
    acc.Reload()
    after = {e.step: e.value for e in acc.Scalars("train/loss")}
    for step, value in BEFORE.items():
        # float32 sums may differ in the last bits between CPU models (AVX2 / AVX-512)
        assert after[step] == pytest.approx(value, rel=1e-3), step
