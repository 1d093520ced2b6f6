"""Print sizes in the studio (AppTest): the memory plan beside the size, a budget too small for the
run, the budget widget, and Continue at 2× from a result."""

from __future__ import annotations

import re

import pytest
import torch

from nst.plan.budget import HELD_GRAIN, held_memory, plan_run
from nst.io.recipe import read_recipe
from nst.core.settings import CONTINUE_STEPS, Settings, parse_bytes, preset
from tests.support.apptest import button, finished, latest_result, poll, texts, upload_inputs

pytestmark = pytest.mark.app


def test_the_size_shows_the_memory_plan_and_its_budget(studio_app, png_of):
    at = studio_app
    upload_inputs(at, png_of)
    at.number_input(key="set_size").set_value(1024)
    at.selectbox(key="set_max_memory").set_value(3 * 2**30)  # the whole process's: it holds 0.6-0.9 GB already
    at.run()
    plan = plan_run(preset("fast", size=1024, max_memory=3 * 2**30), (64, 48), [(48, 48)])  # the studio's default
    # The plan counts what this process holds when it plans (nst.plan.budget.held_memory, in steps of
    # HELD_GRAIN), which may have grown by a step since the page planned.
    shown = [re.search(r"Memory ≈ ([\d.]+[KMG])B of the 3GB budget", c) for c in texts(at.caption)]
    figures = [parse_bytes(m.group(1)) for m in shown if m]
    assert figures and abs(figures[0] - plan.peak) <= HELD_GRAIN + 0.005 * plan.peak, texts(at.caption)


def test_a_budget_too_small_for_the_size_is_said_before_start(studio_app, png_of):
    at = studio_app
    upload_inputs(at, png_of)
    at.number_input(key="set_size").set_value(4096)
    budget = at.selectbox(key="set_max_memory")
    held = held_memory(torch.device("cpu"))
    # Only budgets above what the server process holds are offered: on the CPU it bounds the process.
    offered = [option for option in budget.options if option != "Auto"]
    assert offered and all(parse_bytes(option[:-1]) > held - HELD_GRAIN for option in offered), (held, offered)
    budget.set_value(parse_bytes(offered[0][:-1]))  # the least offered: not the 3 GB a 4096 px run takes
    at.run()
    assert not at.exception
    assert any("4096×3072 result needs at least" in e and "raise “Memory budget”" in e for e in texts(at.error))
    # Start refuses it with the same sentence, before any run begins (the run's preflight: nst.plan.preflight).
    at.button(key="start").click().run()
    assert not at.exception
    refused = [e for e in texts(at.error) if "4096×3072 result needs at least" in e]
    assert len(refused) == 2, refused
    # The page and the Start callback each measure what the process holds, a moment apart; other
    # tests' threads in this process may move it by more than HELD_GRAIN between them. The sentence
    # and the run's own part (the least budget less what is held) agree; the held figure may not.
    figures = [re.fullmatch(r"A 4096×3072 result needs at least ([\d.]+[KMG]) of memory \(the ([\d.]+[KMG]) this"
                            r" process holds before the run, (.*)", e) for e in refused]
    assert all(figures) and figures[0].group(3) == figures[1].group(3), refused
    runs = [parse_bytes(f.group(1)) - parse_bytes(f.group(2)) for f in figures]
    # format_bytes keeps 3 digits (at most 0.005G off each): four figures, 0.02G at most in all.
    assert abs(runs[0] - runs[1]) <= 0.02 * 2**30, refused
    assert not any(c.startswith("Step ") for c in texts(at.caption) + texts(at.markdown))


def test_continue_at_2x_refines_the_result_at_twice_its_size(studio_app, png_of):
    at = studio_app
    upload_inputs(at, png_of)
    at.number_input(key="set_size").set_value(48)
    at.number_input(key="set_steps").set_value(6)
    at.run()
    button(at, "Start").click().run()
    poll(at, finished)
    first = latest_result(at)
    assert first.image.shape == (36, 48, 3)
    at.button(key=f"larger-{first.number}").click().run()
    poll(at, lambda a: finished(a) and latest_result(a).number != first.number, timeout=120)
    larger = latest_result(at)
    assert larger.image.shape == (72, 96, 3)
    assert (larger.settings.size, larger.settings.init, larger.settings.steps) == (96, "image", CONTINUE_STEPS)
    assert read_recipe(larger.png())["settings"]["size"] == 96
