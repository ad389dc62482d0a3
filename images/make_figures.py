"""Draw the teaching figures for the RNN notebook series.

Figures written (PNG, white background, byte-reproducible):
  rnn_model.png             unrolled basic RNN with T_x = T_y
  rnn_cell_forward.png      one RNN cell and its forward equations
  rnn_forward_sequence.png  rnn_forward: rnn_cell_forward applied over time
  rnn_backward_overview.png backpropagation through time (rnn_backward)
  rnn_cell_backward.png     one cell's backward pass and its gradients
  lstm_cell.png             one LSTM cell: its gates, memory cell and equations

Run:  python images/make_figures.py [OUTDIR]
OUTDIR defaults to the folder this script lives in.  Only matplotlib's
built-in mathtext is used (no LaTeX install needed).
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

plt.rcParams.update({"font.family": "DejaVu Sans", "mathtext.fontset": "dejavusans"})

CELL = "#dbe9f6"    # forward cell fill
BACK = "#fbe0dc"    # backward cell fill
GREY = "#888888"
RED = "#c0392b"
INK = "#222222"


def A(sym, t):
    """Mathtext for sym<t>, e.g. A('a', 't-1') -> $a^{<t-1>}$."""
    return rf"${sym}^{{\langle {t} \rangle}}$"


def new_fig(w, h, title=None):
    """Figure of w x h inches whose data units are inches (origin bottom left)."""
    fig = plt.figure(figsize=(w, h), facecolor="white")
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, w)
    ax.set_ylim(0, h)
    ax.axis("off")
    if title:
        ax.text(w / 2, h - 0.3, title, ha="center", va="center", fontsize=14,
                fontweight="bold", color=INK)
    return fig, ax


def box(ax, x, y, w, h, text="", fc=CELL, ec=INK, size=12, **kw):
    """Rounded box centred on (x, y), with optional centred text."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, facecolor=fc,
                                edgecolor=ec, linewidth=1.5,
                                boxstyle="round,pad=0,rounding_size=0.12"))
    if text:
        label(ax, x, y, text, size=size, **kw)


def arrow(ax, p0, p1, color=INK, lw=1.6):
    """Straight arrow from point p0 to point p1."""
    ax.add_patch(FancyArrowPatch(p0, p1, arrowstyle="-|>", mutation_scale=14,
                                 color=color, linewidth=lw, shrinkA=0, shrinkB=0))


def label(ax, x, y, text, size=12, color=INK, ha="center", va="center", **kw):
    """Text (plain or mathtext) centred on (x, y) unless ha/va say otherwise."""
    ax.text(x, y, text, fontsize=size, color=color, ha=ha, va=va, **kw)


def node(ax, x, y, op, r=0.18):
    """Circle node centred on (x, y): op "+" (sum) or "*" (drawn as the element-wise product)."""
    ax.add_patch(plt.Circle((x, y), r, fc="white", ec=INK, lw=1.5))
    if op == "+":
        label(ax, x, y, "+", size=14, fontweight="bold")
    else:
        ax.add_patch(plt.Circle((x, y), 0.035, color=INK))


def line(ax, *points, color=INK, lw=1.6):
    """Polyline without arrowhead through the given points."""
    ax.plot(*zip(*points), color=color, lw=lw)


def save(fig, outdir, name):
    path = os.path.join(outdir, name)
    fig.savefig(path, dpi=100, facecolor="white", metadata={"Software": None})
    plt.close(fig)
    return path


def chain(ax, steps, y, bw, bh, cell_text, a_in, a_out=None, t_y="T_x", gap=0.45,
          **box_kw):
    """Unrolled row of cells at x positions `steps` = [(x, t), ...]; t=None -> ellipsis.

    Draws x<t> below and y_hat<t> above each cell, and the hidden state a<t>
    flowing left to right, starting from the label a_in.  The last output is
    labelled y_hat<t_y> (t_y="T_y" for the T_x = T_y model figure).
    """
    label(ax, 0.4, y, a_in, size=15)
    prev, prev_t = 0.75, None
    for i, (x, t) in enumerate(steps):
        end = x - (gap if t is None else bw / 2)
        arrow(ax, (prev, y), (end, y))
        name = prev_t or (f"{t}-1" if t and i else None)   # a<t-1> after the ellipsis
        if name:
            label(ax, (prev + end) / 2, y + 0.25, A("a", name), size=12)
        if t is None:
            label(ax, x, y, r"$\cdots$", size=22)
            prev, prev_t = x + gap, None
            continue
        box(ax, x, y, bw, bh, cell_text, **box_kw)
        arrow(ax, (x, y - 1.35), (x, y - bh / 2))
        label(ax, x, y - 1.6, A("x", t), size=14)
        arrow(ax, (x, y + bh / 2), (x, y + 1.25))
        label(ax, x, y + 1.5, A(r"\hat{y}", t.replace("T_x", t_y)), size=14)
        prev, prev_t = x + bw / 2, t
    if a_out:
        arrow(ax, (prev, y), (prev + 0.8, y))
        label(ax, prev + 0.85, y, a_out, size=14, ha="left")


# --------------------------------------------------------------------------
def fig_rnn_model(outdir):
    fig, ax = new_fig(10, 4.6, "Basic RNN model  ($T_x = T_y$)")
    steps = [(2.2, "1"), (4.4, "2"), (6.55, None), (8.8, "T_x")]
    chain(ax, steps, 2.2, 1.3, 1.0, "RNN\ncell", A("a", "0"), t_y="T_y")
    return save(fig, outdir, "rnn_model.png")


def fig_rnn_cell_forward(outdir):
    fig, ax = new_fig(9, 5.4, "Basic RNN cell")
    cx, cy, bw, bh = 4.5, 2.55, 5.2, 2.1
    box(ax, cx, cy, bw, bh)
    label(ax, cx, cy + 0.45,
          r"$a^{\langle t \rangle} = \tanh(W_{ax}\, x^{\langle t \rangle}"
          r" + W_{aa}\, a^{\langle t-1 \rangle} + b_a)$", size=14)
    label(ax, cx, cy - 0.45,
          r"$\hat{y}^{\langle t \rangle} = \mathrm{softmax}(W_{ya}\, a^{\langle t \rangle} + b_y)$",
          size=14)
    left, right = cx - bw / 2, cx + bw / 2
    arrow(ax, (0.95, cy), (left, cy))
    label(ax, 0.5, cy, A("a", "t-1"), size=15)
    arrow(ax, (right, cy), (8.0, cy))
    label(ax, 8.45, cy, A("a", "t"), size=15)
    label(ax, (right + 8.0) / 2, cy - 0.3, "to next cell", size=10, color=GREY)
    arrow(ax, (cx, 0.75), (cx, cy - bh / 2))
    label(ax, cx, 0.45, A("x", "t"), size=15)
    arrow(ax, (cx, cy + bh / 2), (cx, 4.2))
    label(ax, cx, 4.5, A(r"\hat{y}", "t"), size=15)
    return save(fig, outdir, "rnn_cell_forward.png")


def fig_rnn_forward_sequence(outdir):
    fig, ax = new_fig(12, 5.0, "rnn_forward: the same cell applied at every time step")
    steps = [(2.2, "1"), (4.9, "2"), (7.05, None), (9.4, "T_x")]
    chain(ax, steps, 2.5, 1.9, 0.9, "rnn_cell_forward", r"$a_0$", A("a", "T_x"),
          size=11, family="monospace")
    label(ax, 6.0, 0.35,
          r"shared by every cell:  $W_{ax},\ W_{aa},\ W_{ya},\ b_a,\ b_y$"
          r"  (the same parameters at each $t$)", size=12,
          bbox=dict(boxstyle="round,pad=0.3", fc="#f4f4f4", ec=GREY))
    return save(fig, outdir, "rnn_forward_sequence.png")


def fig_rnn_backward_overview(outdir):
    fig, ax = new_fig(12, 6.0, "rnn_backward: gradients flow from t = T_x back to t = 1")
    y, bw, bh = 2.6, 1.9, 0.9
    yf = y - 0.3                       # forward (grey) hidden-state arrows
    x1, xT, dots = 2.5, 9.1, 6.35      # first cell, last cell, ellipsis
    for x, t in [(x1, "1"), (xT, "T_x")]:
        box(ax, x, y, bw, bh, "rnn_cell_backward", fc=BACK, size=11, family="monospace")
        arrow(ax, (x - 0.4, 1.05), (x - 0.4, y - bh / 2), color=GREY)      # x<t> in
        label(ax, x - 0.4, 0.8, A("x", t), size=13, color=GREY)
        arrow(ax, (x + 0.4, y - bh / 2), (x + 0.4, 1.05), color=RED)       # dx<t> out
        label(ax, x + 0.4, 0.8, A("dx", t), size=13, color=RED)
        px = x + 1.85                  # "+" node: da<t> (from loss) + da_prev (from t+1)
        label(ax, px, 4.75, A(r"\mathcal{L}", t), size=13)
        arrow(ax, (px, 4.5), (px, y + 0.2), color=RED)
        label(ax, px + 0.12, 3.75, A("da", t), size=12, color=RED, ha="left")
        ax.add_patch(plt.Circle((px, y), 0.2, fc="white", ec=RED, lw=1.5))
        label(ax, px, y, "+", size=14, color=RED, fontweight="bold")
        arrow(ax, (px - 0.2, y), (x + bw / 2, y), color=RED)
        label(ax, (px - 0.2 + x + bw / 2) / 2, y + 0.25, r"$da_{next}$", size=11, color=RED)
    label(ax, dots, y, r"$\cdots$", size=22, color=GREY)
    # backward da_prev arrows (red, right to left) and forward a<t> arrows (grey)
    red = [(xT + 2.35, xT + 2.05, None), (xT - bw / 2, dots + 0.4, r"$da_{prev}$"),
           (dots - 0.4, x1 + 2.05, r"$da_{prev}$"), (x1 - bw / 2, 0.75, r"$da_{prev}$")]
    for x0, x1_, text in red:
        arrow(ax, (x0, y), (x1_, y), color=RED)
        if text:
            label(ax, (x0 + x1_) / 2, y + 0.25, text, size=11, color=RED)
    label(ax, xT + 2.4, y, r"$0$", size=13, color=RED, ha="left")
    label(ax, 0.4, y, r"$da_0$", size=14, color=RED)
    grey = [(0.75, x1 - bw / 2, A("a", "0")), (x1 + bw / 2, dots - 0.4, A("a", "1")),
            (dots + 0.4, xT - bw / 2, A("a", "T_x-1"))]
    for x0, x1_, text in grey:
        arrow(ax, (x0, yf), (x1_, yf), color=GREY, lw=1.2)
        label(ax, (x0 + x1_) / 2, yf - 0.25, text, size=11, color=GREY)
    label(ax, 6.0, 5.25,
          r"at each step:  $da_{next} = da^{\langle t \rangle}$ (from the loss at $t$)"
          r" $+\ da_{prev}$ (from step $t+1$)", size=12)
    label(ax, 6.0, 0.3, "grey: forward pass      red: backward pass (gradients)",
          size=11, color=GREY)
    return save(fig, outdir, "rnn_backward_overview.png")


def fig_rnn_cell_backward(outdir):
    fig, ax = new_fig(12, 6.0, "rnn_cell_backward: gradients of one RNN cell")
    cx, cy, bw, bh = 2.9, 2.95, 2.4, 1.3
    box(ax, cx, cy, bw, bh, "rnn_cell_backward", fc=BACK, size=11, family="monospace")
    arrow(ax, (5.4, cy), (cx + bw / 2, cy), color=RED)
    label(ax, 4.75, cy + 0.28, r"$da_{next}$", size=14, color=RED)
    arrow(ax, (cx - bw / 2, cy), (0.4, cy), color=RED)
    label(ax, 1.05, cy + 0.28, r"$da_{prev}$", size=14, color=RED)
    arrow(ax, (cx, cy - bh / 2), (cx, 1.15), color=RED)
    label(ax, cx, 0.85, A("dx", "t"), size=14, color=RED)
    label(ax, cx, 4.6, "cache: " + A("a", "t") + ", " + A("a", "t-1") + ", "
          + A("x", "t") + r", $W_{ax}, W_{aa}$", size=12, color=GREY)
    arrow(ax, (cx, 4.35), (cx, cy + bh / 2), color=GREY, lw=1.2)
    eqs = [
        (r"$dz = da_{next} \odot \left(1 - (a^{\langle t \rangle})^2\right)$",
         r"$a^{\langle t \rangle}$ is already $\tanh(\cdots)$, so the derivative is"
         r" $1 - (a^{\langle t \rangle})^2$"),
        (r"$dW_{ax} = dz \cdot (x^{\langle t \rangle})^T$", ""),
        (r"$dW_{aa} = dz \cdot (a^{\langle t-1 \rangle})^T$", ""),
        (r"$db_a = \sum_{\mathrm{batch}}\, dz$",
         "np.sum(dz, axis=1, keepdims=True)"),
        (r"$dx^{\langle t \rangle} = W_{ax}^T \cdot dz$", ""),
        (r"$da_{prev} = W_{aa}^T \cdot dz$", ""),
    ]
    box(ax, 8.75, 2.95, 6.1, 4.4, fc="#fafafa", ec=GREY)
    yy = 4.8
    for eq, note in eqs:
        label(ax, 6.0, yy, eq, size=14, ha="left")
        if note:
            label(ax, 6.0, yy - 0.42, note, size=10, color=GREY, ha="left")
            yy -= 0.32
        yy -= 0.6
    label(ax, 8.75, 0.45, r"$\odot$ = element-wise product,   $\cdot$ = matrix product",
          size=10, color=GREY)
    return save(fig, outdir, "rnn_cell_backward.png")


def fig_lstm_cell(outdir):
    fig, ax = new_fig(12, 9.0, "LSTM cell: one time step")
    yc, yg, yb = 7.0, 5.15, 4.2           # memory-cell line, gate row, [a; x] bus
    xf, xi, xc, xo, xt = 2.9, 3.95, 5.0, 6.05, 7.2   # gates' x; xt: tanh(c<t>)
    cat = r"[a^{\langle t-1 \rangle};\, x^{\langle t \rangle}]"
    box(ax, 5.0, 5.55, 7.0, 4.3, fc="#f0f6fc")             # the cell: x 1.5..8.5, y 3.4..7.7
    # memory cell c: c<t-1> -> (x Gamma_f) -> (+ Gamma_i x c~) -> c<t>
    label(ax, 0.75, yc, A("c", "t-1"), size=15)
    arrow(ax, (1.2, yc), (xf - 0.18, yc))
    node(ax, xf, yc, "*")
    arrow(ax, (xf + 0.18, yc), (xc - 0.18, yc))
    node(ax, xc, yc, "+")
    arrow(ax, (xc + 0.18, yc), (9.2, yc))
    label(ax, 9.3, yc, A("c", "t"), size=15, ha="left")
    # inputs: a<t-1> (on top) and x<t> (below) are concatenated into [a<t-1>; x<t>]
    box(ax, 2.05, yb, 0.3, 0.8, fc="white")
    line(ax, (1.9, yb), (2.2, yb), lw=1.0)
    label(ax, 0.75, yb + 0.2, A("a", "t-1"), size=15)
    arrow(ax, (1.2, yb + 0.2), (1.9, yb + 0.2))
    label(ax, 2.05, 2.85, A("x", "t"), size=15)
    arrow(ax, (2.05, 3.1), (2.05, yb - 0.4))
    line(ax, (2.2, yb), (xo, yb))
    label(ax, 2.4, yb - 0.3, f"${cat}$", size=12, ha="left")
    # the four gates, each computed from [a<t-1>; x<t>]
    for x, fn in [(xf, r"$\sigma$"), (xi, r"$\sigma$"), (xc, "tanh"), (xo, r"$\sigma$")]:
        arrow(ax, (x, yb), (x, yg - 0.25))
        box(ax, x, yg, 0.75, 0.5, fn, fc="#fff3d6", size=13)
    arrow(ax, (xf, yg + 0.25), (xf, yc - 0.18))
    label(ax, xf + 0.12, 6.05, r"$\Gamma_f$", size=14, ha="left")
    yi = 6.15                                      # Gamma_i x c~ node
    line(ax, (xi, yg + 0.25), (xi, yi))
    arrow(ax, (xi, yi), (xc - 0.18, yi))
    label(ax, (xi + xc) / 2 - 0.05, yi + 0.25, r"$\Gamma_i$", size=14)
    arrow(ax, (xc, yg + 0.25), (xc, yi - 0.18))
    label(ax, xc + 0.12, 5.7, A(r"\tilde{c}", "t"), size=14, ha="left")
    node(ax, xc, yi, "*")
    arrow(ax, (xc, yi + 0.18), (xc, yc - 0.18))
    # output: a<t> = Gamma_o x tanh(c<t>), to the next cell and to the prediction
    arrow(ax, (xt, yc), (xt, 6.35))
    box(ax, xt, 6.1, 0.75, 0.5, "tanh", fc="white", size=13)
    arrow(ax, (xt, 5.85), (xt, yg + 0.18))
    arrow(ax, (xo + 0.375, yg), (xt - 0.18, yg))
    label(ax, (xo + xt) / 2 + 0.1, yg + 0.25, r"$\Gamma_o$", size=14)
    node(ax, xt, yg, "*")
    arrow(ax, (xt + 0.18, yg), (10.9, yg))
    label(ax, 11.0, yg, A("a", "t"), size=15, ha="left")
    arrow(ax, (10.1, yg), (10.1, 7.35))
    box(ax, 10.1, 7.6, 1.2, 0.5, "softmax", fc="#fff3d6", size=12)
    arrow(ax, (10.1, 7.85), (10.1, 8.25))
    label(ax, 10.1, 8.5, A(r"\hat{y}", "t"), size=15)
    # the equations
    box(ax, 6.0, 1.4, 11.4, 2.4, fc="#fafafa", ec=GREY)
    eqs = [
        (0.6, 2.25, rf"$\Gamma_f = \sigma(W_f {cat} + b_f)$", "forget gate"),
        (0.6, 1.7, rf"$\Gamma_i = \sigma(W_i {cat} + b_i)$", "update gate"),
        (0.6, 1.15, rf"$\tilde{{c}}^{{\langle t \rangle}} = \tanh(W_c {cat} + b_c)$", "candidate"),
        (0.6, 0.6, rf"$\Gamma_o = \sigma(W_o {cat} + b_o)$", "output gate"),
        (6.9, 2.25, r"$c^{\langle t \rangle} = \Gamma_f \odot c^{\langle t-1 \rangle}"
                    r" + \Gamma_i \odot \tilde{c}^{\langle t \rangle}$", ""),
        (6.9, 1.7, r"$a^{\langle t \rangle} = \Gamma_o \odot \tanh(c^{\langle t \rangle})$", ""),
        (6.9, 1.15, r"$\hat{y}^{\langle t \rangle} = \mathrm{softmax}(W_y\, a^{\langle t \rangle}"
                    r" + b_y)$", ""),
    ]
    for x, y, eq, note in eqs:
        label(ax, x, y, eq, size=14, ha="left")
        if note:
            label(ax, x + 4.4, y, note, size=10, color=GREY, ha="left")
    label(ax, 6.9, 0.6, r"$\odot$ = element-wise product", size=10, color=GREY, ha="left")
    return save(fig, outdir, "lstm_cell.png")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    outdir = argv[0] if argv else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(outdir, exist_ok=True)
    for draw in (fig_rnn_model, fig_rnn_cell_forward, fig_rnn_forward_sequence,
                 fig_rnn_backward_overview, fig_rnn_cell_backward, fig_lstm_cell):
        print(draw(outdir))


if __name__ == "__main__":
    main()
