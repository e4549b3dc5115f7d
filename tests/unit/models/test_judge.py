"""The fixed judge: learns digits, scores images, round-trips through its file, refuses damaged ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latent_atlas.errors import DamagedFileError, MissingFileError
from latent_atlas.models.judge import FEATURES, Judge, JudgeSettings, load_judge, save_judge, train_judge


def bars(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class c is a bright horizontal bar at rows 2c+4..2c+6, with pixel noise: learnable, not trivial."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.uniform(0, 0.3, size=(n, 28, 28)).astype(np.float32)
    for i, c in enumerate(labels):
        images[i, 2 * c + 4 : 2 * c + 7, 4:24] = 1.0
    return images, labels


@pytest.fixture(scope="module")
def trained():
    images, labels = bars(400, seed=0)
    model, history = train_judge(images, labels, JudgeSettings(epochs=3, batch_size=32, lr=3e-3, seed=1))
    return model, history


def test_the_judge_learns_a_learnable_problem_and_scores_held_out_images(trained):
    model, history = trained
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    images, labels = bars(200, seed=9)
    judge = Judge(model)
    assert judge.accuracy(images, labels) > 0.95
    probabilities = judge.probabilities(images)
    assert probabilities.shape == (200, 10) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert judge.features(images).shape == (200, FEATURES)


def test_training_is_seeded(trained):
    images, labels = bars(400, seed=0)
    again, _ = train_judge(images, labels, JudgeSettings(epochs=3, batch_size=32, lr=3e-3, seed=1))
    for a, b in zip(trained[0].state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_a_saved_judge_loads_back_with_the_same_outputs(trained, tmp_path):
    images, _ = bars(50, seed=3)
    save_judge(tmp_path / "judge.pt", trained[0], data_checksum="abc")
    assert np.array_equal(load_judge(tmp_path / "judge.pt").probabilities(images), Judge(trained[0]).probabilities(images))


def test_a_missing_or_damaged_judge_names_its_file(trained, tmp_path):
    with pytest.raises(MissingFileError, match="absent.pt does not exist"):
        load_judge(tmp_path / "absent.pt")
    path = tmp_path / "judge.pt"
    save_judge(path, trained[0], data_checksum="abc")
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(DamagedFileError, match="judge.pt is not a readable judge"):
        load_judge(path)


def test_images_of_the_wrong_shape_are_refused(trained):
    with pytest.raises(ValueError, match=r"shape \(n, 28, 28\)"):
        Judge(trained[0]).probabilities(np.zeros((4, 784), np.float32))
