"""The image optimisers, L-BFGS and Adam, each keeping the image inside the box [0, 1].

Written here rather than taken from ``torch.optim``: its first use imports ``torch._dynamo``,
which adds about 150 MB of resident memory to the process (more than a 512 px run's saved
activations) for a compiler this engine never calls. Each step is one evaluation of the loss
(one streamed record); the few numbers read back to the host are marked.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

Closure = Callable[[], torch.Tensor]  # clears x.grad and computes the loss; the optimiser differentiates it
NOISE = 1e-3  # relative loss change L-BFGS treats as evaluation noise (bf16 convolutions)
MAX_BACKTRACKS = 3


class BoxLBFGS:
    """L-BFGS for a float32 image ``x``, as ``torch.optim.LBFGS`` with ``max_iter=1`` runs it (no
    line search: a fixed step ``lr`` along the two-loop direction, the first one scaled by
    min(1, 1/|g|₁)), plus the box [0, 1] and a back-off from uphill steps.

    * A pixel at 0 or 1 whose gradient pushes it further out is held: zero gradient and zero
      direction, so the step does not keep running into the box's wall and the curvature
      pairs' coupling cannot move it either.
    * After each step the image is clamped, and the curvature pair is built from the move
      actually made (s = x_new − x_old), not the one proposed.
    * A step that raised the loss is taken back part of the way (see ``_backtrack``); when
      backtracking finds no lower point, the run restarts from the last accepted point (see
      ``_restart``). An accepted point is never above the last one by more than NOISE.
    * It minimises L / L0, where L0 is the first loss it sees: L-BFGS assumes a well-scaled
      problem for its first step and its curvature test, and Gatys losses on 0-255 Caffe
      features reach 1e10. The minimiser is the same; the scaling happens before the backward,
      so reduced-precision gradients stay in range.

    The ``history`` most recent pairs live in preallocated buffers, so a step allocates no
    long-lived memory; the spare row, where the next pair is made, holds the previous image and
    gradient until then (no vectors of their own: at 4096 px each is 150 MB).
    """

    def __init__(self, x: torch.Tensor, lr: float, history: int = 10) -> None:
        # Backtracks and restarts write the image through a flat view: a reshape of a strided
        # image (a channels-last start, say) would be a copy, and those writes would be lost.
        if not x.is_contiguous():
            raise ValueError("BoxLBFGS needs a contiguous image; pass x.contiguous() as the leaf")
        self.x, self.lr = x, lr
        n = x.numel()
        # history + 1 rows: a new pair is written into the spare row and kept only if it has
        # positive curvature. Zeroed rather than left empty: the memory is then resident from
        # the first step, as the memory model (nst.plan.budget) counts it, not only after ten.
        self._s = x.new_zeros(history + 1, n)
        self._y = torch.zeros_like(self._s)
        self._rho = x.new_empty(history + 1)
        self._order: list[int] = []  # rows in use, oldest first
        self._spare = 0
        self._unused = list(range(1, history + 1))
        self._h_diag = x.new_ones(())
        self._started = False  # whether the spare row holds a previous image and gradient
        self._prev_loss = math.inf
        self._backtracks = 0
        self._restarts = 0  # restarts since the last accepted step
        self._loss_scale: float | None = None  # 1 / L0

    def step(self, closure: Closure) -> torch.Tensor:
        """Evaluate the loss (the closure's, unscaled) and move ``x``; returns that loss."""
        loss = closure()
        if self._loss_scale is None:
            self._loss_scale = 1.0 / max(float(loss.detach()), 1e-12)  # host read, first step only
        scaled = loss * self._loss_scale
        scaled.backward()
        x, g = self.x.detach(), self.x.grad
        with torch.no_grad():
            value = float(scaled)  # host read
            # Increases within NOISE are reduced-precision rounding, not overshoot.
            if self._started and not value <= self._prev_loss * (1 + NOISE):  # a rise, or not finite
                if self._backtracks < MAX_BACKTRACKS:
                    self._backtracks += 1
                    self._backtrack(value)
                else:
                    self._restart()
                return loss
            self._backtracks = self._restarts = 0
            self._prev_loss = value
            active = ((x <= 0) & (g > 0)) | ((x >= 1) & (g < 0))
            g.masked_fill_(active, 0.0)
            flat_x, flat_g = x.view(-1), g.reshape(-1)
            first = not self._started
            if not first:
                self._remember(flat_x, flat_g)
            d = self._direction(flat_g).masked_fill_(active.reshape(-1), 0.0)
            t = self.lr
            # Host read: whether d descends (a bad curvature pair can make it climb): if not,
            # start afresh with steepest descent.
            if first or float(flat_g.dot(d)) >= 0:
                self._forget()
                d = torch.neg(flat_g, out=d)  # into the direction's memory: no second image-sized vector
                t = min(1.0, 1.0 / max(float(torch.linalg.vector_norm(flat_g, 1)), 1e-30)) * self.lr
            self._s[self._spare].copy_(flat_x)  # the previous image and gradient, for the next pair
            self._y[self._spare].copy_(flat_g)
            self._started = True
            x.add_(d.view_as(x), alpha=t).clamp_(0, 1)
        return loss

    def _backtrack(self, value: float) -> None:
        """The last step went uphill (there is no line search, and a fixed step can overshoot,
        most of all early in a new scale). Move back along it to the minimiser of the quadratic
        through the last accepted loss, its slope along the step and this loss, kept within
        [0.1, 0.5] of the step (Nocedal & Wright's backtracking); the next step judges that
        point. One host read; the history is kept."""
        flat_x = self.x.detach().view(-1)
        prev_x, prev_g = self._s[self._spare], self._y[self._spare]
        step = flat_x - prev_x
        slope = float(prev_g.dot(step))
        curvature = value - self._prev_loss - slope
        fraction = -slope / (2 * curvature) if curvature > 0 else 0.5
        torch.add(prev_x, step, alpha=min(max(fraction, 0.1), 0.5), out=flat_x)

    def _restart(self) -> None:
        """Backtracking found no lower point along the step: the curvature pairs no longer
        describe the loss here (accepting the higher point instead is how a run blows up).
        Forget them and take a steepest-descent step from the last accepted point, sized as a
        run's first step and halved for each restart in a row; the next step judges it."""
        self._backtracks = 0
        self._restarts += 1
        self._forget()
        flat_x = self.x.detach().view(-1)
        # The point and its gradient wait in the spare row (the box's held pixels already zeroed).
        prev_x, g = self._s[self._spare], self._y[self._spare]
        t = min(1.0, 1.0 / max(float(torch.linalg.vector_norm(g, 1)), 1e-30)) * self.lr * 0.5 ** (self._restarts - 1)
        torch.add(prev_x, g, alpha=-t, out=flat_x).clamp_(0, 1)

    def _remember(self, flat_x: torch.Tensor, flat_g: torch.Tensor) -> None:
        """Add the pair (s, y) of the last step if its curvature y·s is positive; it is made in the
        spare row, over the previous image and gradient held there."""
        row = self._spare
        s, y = self._s[row], self._y[row]
        s.neg_().add_(flat_x)  # x − x_prev
        y.neg_().add_(flat_g)
        ys = y.dot(s)
        if float(ys) <= 1e-10:  # host read: keep or drop the pair
            return
        self._rho[row] = 1.0 / ys
        self._h_diag = ys / y.dot(y)
        self._order.append(row)
        self._spare = self._order.pop(0) if not self._unused else self._unused.pop(0)

    def _forget(self) -> None:
        self._unused = sorted(self._unused + self._order)
        self._order = []
        self._h_diag = torch.ones_like(self._h_diag)

    def _direction(self, flat_g: torch.Tensor) -> torch.Tensor:
        """−H g by the two-loop recursion; tensor coefficients, so no host reads."""
        q = flat_g.neg()
        alphas = {}
        for row in reversed(self._order):
            alphas[row] = self._s[row].dot(q) * self._rho[row]
            q.addcmul_(self._y[row], alphas[row], value=-1)
        q.mul_(self._h_diag)
        for row in self._order:
            beta = self._y[row].dot(q) * self._rho[row]
            q.addcmul_(self._s[row], alphas[row] - beta)
        return q


class BoxAdam:
    """Adam (Kingma & Ba, as ``torch.optim.Adam`` without weight decay), then a clamp to [0, 1]."""

    def __init__(self, x: torch.Tensor, lr: float, betas: tuple[float, float], eps: float) -> None:
        self.x, self.lr, self.betas, self.eps = x, lr, betas, eps
        self._m = torch.zeros_like(x)
        self._v = torch.zeros_like(self._m)
        self._t = 0

    def step(self, closure: Closure) -> torch.Tensor:
        """Evaluate the loss, differentiate it and move ``x``; returns the loss."""
        loss = closure()
        loss.backward()
        b1, b2 = self.betas
        self._t += 1
        with torch.no_grad():
            g = self.x.grad
            self._m.lerp_(g, 1 - b1)
            self._v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (self._v.sqrt() / math.sqrt(1 - b2 ** self._t)).add_(self.eps)
            self.x.addcdiv_(self._m, denom, value=-self.lr / (1 - b1 ** self._t)).clamp_(0, 1)
        return loss
