import math

import pytest
import torch

from clipinv import ClipinvError, Prompt, blend
from clipinv.core.objective import distance, l1, total_variation


def test_tv_matches_hand_computation():
    # channel 0: [[0, 1], [2, 4]]; channel 1: zeros
    x = torch.zeros(1, 2, 2, 2)
    x[0, 0] = torch.tensor([[0.0, 1.0], [2.0, 4.0]])
    horizontal = math.sqrt(1**2 + 2**2)  # 1-0, 4-2
    vertical = math.sqrt(2**2 + 3**2)  # 2-0, 4-1
    diag = 4.0  # 4-0
    anti = 1.0  # 2-1
    expected = (horizontal + vertical + diag + anti) / 2  # mean over the two channels
    assert total_variation(x).item() == pytest.approx(expected, rel=1e-6)


def test_tv_is_per_image_and_zero_for_flat_images():
    x = torch.stack([torch.full((3, 4, 4), 0.3), torch.rand(3, 4, 4)])
    tv = total_variation(x)
    assert tv.shape == (2,)
    assert tv[0].item() == 0.0 and tv[1].item() > 0


def test_l1_is_the_sum_of_absolute_values():
    x = torch.tensor([[[[0.5, -0.25], [1.0, 0.0]]]])
    assert l1(x).item() == pytest.approx(1.75)


def test_l1_is_per_image():
    x = torch.stack([torch.full((3, 2, 2), 0.4), torch.tensor([0.0, 1.0]).view(1, 1, 2).expand(3, 2, 2)])
    assert l1(x).tolist() == pytest.approx([12 * 0.4, 6.0], abs=1e-6)


def test_distance_weights_each_prompt():
    f = torch.tensor([[[1.0, 0.0]]])  # one image, one copy
    t = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # two prompts
    w = torch.tensor([[1.0, -0.5]])
    # |f - t0| = 0, |f - t1| = sqrt(2)
    assert distance(f, t, w).item() == pytest.approx(-0.5 * math.sqrt(2))


def test_prompt_algebra():
    p = 0.7 * Prompt("a landscape") - 0.3 * Prompt("a person") + "a sunset"
    assert p.terms == ((0.7, "a landscape"), (-0.3, "a person"), (1.0, "a sunset"))
    assert blend("a", "b").weights == [0.5, 0.5]
    with pytest.raises(ClipinvError, match="positive weight"):
        Prompt([(-1.0, "a person")])
    with pytest.raises(ClipinvError, match="empty"):
        Prompt("   ")
