"""How it works: the method, what each setting does, and the papers behind it."""

import streamlit as st

st.title("How it works")
st.markdown(
    "Neural style transfer (Gatys, Ecker & Bethge) does not train a network. It takes VGG19, a network "
    "trained to recognise objects, and uses its layers as a measuring instrument: deeper layers describe *what* "
    "is in a picture and where, while the correlations between feature maps describe *how* it is painted. "
    "The result image itself is then optimised, pixel by pixel, until its content measurements match the "
    "content image and its style measurements match the style image."
)

st.header("Content")
st.markdown(
    "At layer $l$ with $N_l$ feature maps of $M_l$ positions each, let $F^l$ be the $N_l \\times M_l$ "
    "features of the image being optimised and $P^l$ those of the content photo. The content loss is the "
    "squared error between them (the studio divides by $N_l M_l$, so it does not grow with image size):"
)
st.latex(r"\mathcal{L}_{content} = \sum_{l \in C} \frac{1}{2\,N_l M_l} \sum_{i,j} \left(F^l_{ij} - P^l_{ij}\right)^2")

st.header("Style")
st.markdown("Style is captured by the Gram matrix: how strongly each pair of feature maps fires together, "
            "averaged over all positions, which throws away *where* things are.")
st.latex(r"G^l = \frac{F^l \, {F^l}^{\top}}{M_l}")
st.markdown("With $A^l$ the Gram matrix of the style image, each style layer contributes")
st.latex(r"E_l = \frac{1}{4 N_l^2} \sum_{i,j} \left(G^l_{ij} - A^l_{ij}\right)^2, \qquad "
         r"\mathcal{L}_{style} = \sum_{l \in S} w_l E_l")
st.markdown("which equals the paper's $\\frac{1}{4N_l^2M_l^2}\\sum(FF^\\top - A)^2$. With several style images, "
            "the $E_l$ are mixed by their blend weights.")

st.header("Total")
st.latex(r"\mathcal{L} = \alpha\,\mathcal{L}_{content} + \beta\,\mathcal{L}_{style} + \gamma\,\mathcal{L}_{TV}")
st.markdown(
    "$\\mathcal{L}_{TV}$ (total variation) is the mean squared difference between neighbouring pixels; a "
    "little of it removes high-frequency speckle. The image is optimised with L-BFGS or Adam, starting from "
    "the content image, noise or the style image."
)

st.header("What the settings do")
st.markdown(
    """
| Setting | Effect |
|---|---|
| **Content weight α** / **Style weight β** | Only their ratio matters. Raise β by powers of ten for more style, lower it to keep more of the photo. |
| **TV weight γ** | Smoothing. 0 turns it off; raise it if the result looks noisy. |
| **Steps** | Optimiser iterations over all scales. L-BFGS looks good after 200–500; Adam needs about 1000. |
| **Output size (px)** | Longer side of the result. Time and memory grow with its square. |
| **Optimiser / learning rate** | L-BFGS converges fastest; Adam is the original recipe. Leave the learning rate empty for the optimiser's default (1 for L-BFGS, 0.02 for Adam). |
| **Initialise from** | Content converges fastest and keeps the layout; noise gives more varied results (set the seed to repeat one). |
| **Colour preservation** | Luminance: transfer style on brightness only and keep the photo's colours. Histogram: recolour the style to the photo's palette first. |
| **Multi-scale** | Optimise a small image first and refine it at growing sizes: faster, with larger coherent structures. |
| **Seed** | Fixes the random start, so a recipe repeats exactly. |
| **Content / style layers** | Which VGG19 layers are matched (see the Layer explorer). Lower style layers give finer texture. |
| **Custom style-layer weights** | The $w_l$ above; off means equal weights. |
| **Style scale** | Size of the style image relative to the output: larger gives bigger brush strokes. |
| **Pooling** | Average pooling (suggested in the paper) gives smoother gradients than VGG's max pooling. |
| **Preview every N steps** | How often the live preview refreshes. |
| **VGG19 weights** | The bundled Caffe VGG19 (the paper's network) or torchvision's ImageNet VGG19. |
"""
)

st.header("References")
st.markdown(
    """
1. L. A. Gatys, A. S. Ecker, M. Bethge. *A Neural Algorithm of Artistic Style.* arXiv:1508.06576, 2015.
2. L. A. Gatys, A. S. Ecker, M. Bethge. *Image Style Transfer Using Convolutional Neural Networks.* CVPR 2016.
3. L. A. Gatys, A. S. Ecker, M. Bethge, A. Hertzmann, E. Shechtman. *Controlling Perceptual Factors in Neural
   Style Transfer.* CVPR 2017.
4. K. Simonyan, A. Zisserman. *Very Deep Convolutional Networks for Large-Scale Image Recognition.*
   arXiv:1409.1556, 2014.
"""
)
