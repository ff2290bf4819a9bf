"""The emoji-clip dual encoder: a small ResNet image tower and a small causal text transformer.

Both towers end in a linear projection to the shared embedding (D=256) and L2-normalize
it, so the exported graphs output unit vectors (the engine normalizes again, harmlessly).
Written with plain operators so that PyTorch 1.13 exports it to ONNX opset 14 and newer
PyTorch versions train it unchanged.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_CONFIG = {
    "embed_dim": 256,
    "image_size": 64,
    "widths": [32, 64, 128, 256],
    "blocks": [1, 2, 2, 2],
    "vocab_size": 4096,
    "context_length": 32,
    "text_width": 256,
    "text_layers": 4,
    "text_heads": 4,
    "text_mlp": 512,
}


FAST_CPU_LINEAR = True


class Dense(nn.Linear):
    """nn.Linear whose CPU forward runs as a 1x1 convolution.

    Debian's PyTorch multiplies matrices with the reference BLAS, about ten times slower
    than its oneDNN convolutions; the result is the same linear map. ONNX export (and
    FAST_CPU_LINEAR = False) takes the plain F.linear path.
    """

    def forward(self, x):
        if FAST_CPU_LINEAR and x.device.type == "cpu" and not torch.onnx.is_in_onnx_export():
            shp = x.shape
            x2 = x.reshape(-1, shp[-1]).t().reshape(1, shp[-1], -1, 1)
            y = F.conv2d(x2, self.weight[:, :, None, None], self.bias)
            return y.reshape(self.out_features, -1).t().reshape(list(shp[:-1]) + [self.out_features])
        return F.linear(x, self.weight, self.bias)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x if self.down is None else self.down(x)
        return F.relu(y + s)


class ImageEncoder(nn.Module):
    """pixel_values [N,3,S,S] (CLIP-normalized) -> unit embeddings [N,D]."""

    def __init__(self, cfg):
        super().__init__()
        w = cfg["widths"]
        self.stem = nn.Sequential(nn.Conv2d(3, w[0], 3, 2, 1, bias=False), nn.BatchNorm2d(w[0]), nn.ReLU(inplace=True))
        layers = []
        cin = w[0]
        for i, (c, n) in enumerate(zip(w, cfg["blocks"])):
            for j in range(n):
                layers.append(BasicBlock(cin, c, 2 if (j == 0 and i > 0) else 1))
                cin = c
        self.layers = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(cin)
        self.proj = nn.Linear(cin, cfg["embed_dim"], bias=False)

    def forward(self, x):
        x = self.layers(self.stem(x))
        x = x.mean(dim=(2, 3))
        x = self.proj(self.norm(x))
        return F.normalize(x, dim=-1)


class Attention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.qkv = Dense(width, 3 * width)
        self.out = Dense(width, width)

    def forward(self, x, bias):
        n, l, c = x.shape
        h = self.heads
        q, k, v = self.qkv(x).reshape(n, l, 3, h, c // h).permute(2, 0, 3, 1, 4).unbind(0)
        att = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(c // h))
        att = torch.softmax(att.float() + bias, dim=-1).to(v.dtype)
        y = torch.matmul(att, v).permute(0, 2, 1, 3).reshape(n, l, c)
        return self.out(y)


class Block(nn.Module):
    def __init__(self, width, heads, mlp):
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.ln2 = nn.LayerNorm(width)
        self.fc1 = Dense(width, mlp)
        self.fc2 = Dense(mlp, width)

    def forward(self, x, bias):
        x = x + self.attn(self.ln1(x), bias)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class TextEncoder(nn.Module):
    """input_ids, attention_mask [N,L] (int64, L <= context) -> unit embeddings [N,D].

    Causal self-attention (padding keys masked too); the state at the first end-of-text
    token is normalized and projected, as in CLIP.
    """

    def __init__(self, cfg, eot_id):
        super().__init__()
        w, L = cfg["text_width"], cfg["context_length"]
        self.eot_id = eot_id
        self.tok = nn.Embedding(cfg["vocab_size"], w)
        self.pos = nn.Parameter(torch.zeros(L, w))
        self.blocks = nn.ModuleList([Block(w, cfg["text_heads"], cfg["text_mlp"]) for _ in range(cfg["text_layers"])])
        self.ln = nn.LayerNorm(w)
        self.proj = Dense(w, cfg["embed_dim"], bias=False)
        causal = torch.full((L, L), -1e9).triu(1)
        self.register_buffer("causal", causal, persistent=False)
        nn.init.normal_(self.tok.weight, std=0.02)
        nn.init.normal_(self.pos, std=0.01)

    def forward(self, input_ids, attention_mask):
        n, l = input_ids.shape
        x = self.tok(input_ids) + self.pos[:l]
        pad = (1.0 - attention_mask.to(torch.float32)) * -1e9
        bias = self.causal[:l, :l].unsqueeze(0).unsqueeze(0) + pad[:, None, None, :]
        for b in self.blocks:
            x = b(x, bias)
        x = self.ln(x)
        eot = torch.argmax((input_ids == self.eot_id).to(torch.int32), dim=1)
        x = torch.gather(x, 1, eot.reshape(n, 1, 1).expand(n, 1, x.shape[2])).reshape(n, x.shape[2])
        return F.normalize(self.proj(x), dim=-1)


class DualEncoder(nn.Module):
    def __init__(self, cfg, eot_id):
        super().__init__()
        self.cfg = dict(cfg)
        self.visual = ImageEncoder(cfg)
        self.text = TextEncoder(cfg, eot_id)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))


def count_params(m):
    return sum(p.numel() for p in m.parameters())


def load_checkpoint(folder):
    """Rebuilds a DualEncoder from train.py's output folder (config + per-tower weights)."""
    import json
    import os

    import numpy as np

    cfg = json.load(open(os.path.join(folder, "config.json")))
    m = DualEncoder(cfg, cfg["eot_id"])
    sd = {}
    for f in ("checkpoint_visual.npz", "checkpoint_text.npz"):
        d = np.load(os.path.join(folder, f))
        sd.update({k: torch.from_numpy(d[k]) for k in d.files})
    m.load_state_dict(sd)
    return m.eval(), cfg


def load_onnx_weights(m, model_dir):
    """Loads the weights of an exported model folder (vision_model.onnx, text_model.onnx)
    into the DualEncoder m, so that a shipped model can be fine-tuned without its PyTorch
    checkpoint. Needs the onnx package.

    The export folds each BatchNorm into the convolution before it, so the folded
    convolution's weight goes to the conv and its bias to the BatchNorm, whose scale becomes 1
    and whose statistics become identity (mean 0, variance 1 - eps): with its statistics
    frozen (train.py keeps BatchNorm in eval mode when fine-tuning) the network computes what
    the ONNX graph does. Linear weights come from the MatMul initializers, in graph order,
    transposed. Raises ValueError when a shape or count does not match.
    """
    import os

    import onnx
    from onnx import numpy_helper

    def graph(name):
        g = onnx.load(os.path.join(model_dir, name)).graph
        return g, {i.name: numpy_helper.to_array(i) for i in g.initializer}

    def put(param, array):
        t = torch.from_numpy(array.copy()).to(param.dtype)
        if tuple(t.shape) != tuple(param.shape):
            raise ValueError(f"shape {tuple(t.shape)} does not fit {tuple(param.shape)}")
        with torch.no_grad():
            param.copy_(t)

    g, init = graph("vision_model.onnx")
    convs = [n for n in g.node if n.op_type == "Conv"]
    pairs = []  # (conv, bn) in forward order
    v = m.visual
    pairs.append((v.stem[0], v.stem[1]))
    for blk in v.layers:
        pairs += [(blk.conv1, blk.bn1), (blk.conv2, blk.bn2)]
        if blk.down is not None:
            pairs.append((blk.down[0], blk.down[1]))
    if len(convs) != len(pairs):
        raise ValueError(f"vision graph has {len(convs)} Conv nodes, the model {len(pairs)}")
    for node, (conv, bn) in zip(convs, pairs):
        put(conv.weight, init[node.input[1]])
        put(bn.bias, init[node.input[2]])
        with torch.no_grad():
            bn.weight.fill_(1.0)
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
    put(v.norm.weight, init["norm.weight"])
    put(v.norm.bias, init["norm.bias"])
    mats = [init[n.input[1]] for n in g.node if n.op_type == "MatMul" and n.input[1] in init]
    if len(mats) != 1:
        raise ValueError(f"vision graph has {len(mats)} weight MatMuls, want 1")
    put(v.proj.weight, mats[0].T)

    g, init = graph("text_model.onnx")
    t = m.text
    loaded = set()
    for name, p in t.named_parameters():
        if "text." + name in init:
            put(p, init["text." + name])
            loaded.add(p)
    dense = []
    for blk in t.blocks:
        dense += [blk.attn.qkv, blk.attn.out, blk.fc1, blk.fc2]
    dense.append(t.proj)
    mats = [init[n.input[1]] for n in g.node if n.op_type == "MatMul" and n.input[1] in init]
    if len(mats) != len(dense):
        raise ValueError(f"text graph has {len(mats)} weight MatMuls, the model {len(dense)}")
    for lin, w in zip(dense, mats):
        put(lin.weight, w.T)
        loaded.add(lin.weight)
    missing = [n for n, p in t.named_parameters() if p not in loaded]
    if missing:
        raise ValueError(f"text parameters not found in the graph: {missing}")
    return m


def scores(a, b):
    """a [N,D] @ b [M,D].T -> [N,M]; on the CPU as a 1x1 convolution (see Dense: Debian's
    PyTorch multiplies matrices with the reference BLAS, some thirty times slower here)."""
    if a.device.type != "cpu":
        return a @ b.t()
    y = F.conv2d(a.t().reshape(1, a.shape[1], -1, 1), b[:, :, None, None])
    return y.reshape(b.shape[0], -1).t()
