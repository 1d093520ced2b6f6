"""The settings a fast run reads: the one rule for what the fast method uses of :class:`nst.Settings`.

One pass of the network (:mod:`nst.model.fast.method`) at the output size on the device, within the
memory budget (:func:`nst.plan.budget.plan_fast`), in the styles (uploaded, built-in, blended) at a
strength, in a colour mode, by regions with soft edges. Every other setting is the optimiser's:
the studio shows it only under Optimise, and a fast result leaves it as it was
(tests/test_fast_fields.py changes each one and compares).
"""

from __future__ import annotations

FAST_FIELDS = frozenset({"method", "size", "device", "max_memory", "strength", "preserve_color", "style_blend",
                         "builtin_styles", "mask", "regions", "region_blur"})
