"""Evaluation input: one fixed binarised draw per image, independent of the selection."""

import torch

from genlab.data.prepare import eval_seed, model_input, select_input


def test_selected_images_get_the_whole_split_draw():
    torch.manual_seed(0)
    images = (torch.rand(50, 1, 4, 4) * 255).to(torch.uint8)
    seed = eval_seed(0)
    whole = model_input(images, "dynamic", seed)
    for idx in (torch.tensor([7]), torch.tensor([3, 7, 41]), torch.arange(50)):
        assert torch.equal(select_input(images, idx, "dynamic", seed), whole[idx])
    assert set(whole.unique().tolist()) <= {0.0, 1.0}


def test_grey_and_threshold_inputs_are_plain_selections():
    images = torch.tensor([[[[0, 100, 200, 255]]]], dtype=torch.uint8).repeat(3, 1, 1, 1)
    idx = torch.tensor([2, 0])
    assert torch.equal(select_input(images, idx, "none", 1), images[idx].float() / 255)
    assert torch.equal(
        select_input(images, idx, "threshold", 1)[0, 0, 0], torch.tensor([0.0, 0.0, 1.0, 1.0])
    )
