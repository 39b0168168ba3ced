"""A per-member re-statement of the reference world model (docs/method.md section 4), used only as a test oracle.

One nn.Sequential per head and member, a GRU named ``memory.rnn``, the reference's forward semantics (ensemble mean
or gathered member, std across members summed). Its state dict has exactly the reference names.
"""

import torch
from torch import nn
from torch.nn import functional as F


def _mlp(in_dim, hidden, out_dim):
    layers, d = [], in_dim
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


class _Memory(nn.Module):
    def __init__(self, in_dim, hidden, layers):
        super().__init__()
        self.rnn = nn.GRU(in_dim, hidden, layers, batch_first=True)


class RefRNNBase(nn.Module):
    def __init__(self, in_dim, hidden, layers):
        super().__init__()
        self.memory = _Memory(in_dim, hidden, layers)
        self.hidden_states = None

    def forward(self, s, a):
        out, self.hidden_states = self.memory.rnn(torch.cat([s, a], -1), self.hidden_states)
        return out[:, -1]


class RefMLPBase(nn.Module):
    def __init__(self, in_dim, shape):
        super().__init__()
        layers, d = [], in_dim
        for h in shape:
            layers += [nn.Linear(d, h), nn.ReLU()]
            d = h
        self.layers = nn.Sequential(*layers)

    def forward(self, s, a):
        return self.layers(torch.cat([s, a], -1).flatten(1, 2))


class RefStateHead(nn.Module):
    def __init__(self, in_dim, S, width):
        super().__init__()
        self.state_mean_layers = _mlp(in_dim, (width,), S)
        self.state_logstd_layers = _mlp(in_dim, (width,), S)
        self.state_min_logstd = nn.Parameter(torch.randn(1, S) * 0.3 - 5.0)
        self.state_log_delta_logstd = nn.Parameter(torch.randn(1, S) * 0.3)

    def forward(self, x, s_hist):
        mean = self.state_mean_layers(x) + s_hist[:, -1]
        raw = self.state_logstd_layers(x)
        mx = self.state_min_logstd + torch.exp(self.state_log_delta_logstd)
        logstd = mx - F.softplus(mx - raw)
        logstd = self.state_min_logstd + F.softplus(logstd - self.state_min_logstd)
        return mean, torch.exp(logstd)


class RefAuxHead(nn.Module):
    def __init__(self, in_dim, E, C, T, width):
        super().__init__()
        if E:
            self.extension_layers = _mlp(in_dim, (width,), E)
        self.contact_layers = _mlp(in_dim, (width,), C)
        self.termination_layers = _mlp(in_dim, (width,), T)
        self.E = E

    def forward(self, x):
        ext = self.extension_layers(x) if self.E else None
        return ext, self.contact_layers(x), self.termination_layers(x)


class ReferenceEnsemble(nn.Module):
    def __init__(self, S, A, E, C, T, B, hidden=32, layers=2, width=16, mlp_shape=None, M=4):
        super().__init__()
        if mlp_shape is None:
            self.state_base = RefRNNBase(S + A, hidden, layers)
            self.auxiliary_base = RefRNNBase(S + A, hidden, layers)
            out = hidden
        else:
            self.state_base = RefMLPBase(M * (S + A), mlp_shape)
            self.auxiliary_base = RefMLPBase(M * (S + A), mlp_shape)
            out = mlp_shape[-1]
        self.state_heads = nn.ModuleList([RefStateHead(out, S, width) for _ in range(B)])
        self.auxiliary_heads = nn.ModuleList([RefAuxHead(out, E, C, T, width) for _ in range(B)])
        self.B, self.S = B, S

    def reset(self):
        for base in (self.state_base, self.auxiliary_base):
            if hasattr(base, "hidden_states"):
                base.hidden_states = None

    def forward(self, s, a, model_ids=None):
        hs = self.state_base(s, a)
        means, stds = zip(*[h(hs, s) for h in self.state_heads])
        means, stds = torch.stack(means), torch.stack(stds)
        ha = self.auxiliary_base(s, a)
        aux = [h(ha) for h in self.auxiliary_heads]
        con = torch.stack([x[1] for x in aux])
        term = torch.stack([x[2] for x in aux])
        if model_ids is None:
            out_s, out_c, out_t = means.mean(0), con.mean(0), term.mean(0)
        else:
            ids = model_ids.view(1, -1, 1)
            out_s = torch.gather(means, 0, ids.repeat(1, 1, self.S)).squeeze(0)
            out_c = torch.gather(con, 0, ids.repeat(1, 1, con.shape[-1])).squeeze(0)
            out_t = torch.gather(term, 0, ids.repeat(1, 1, term.shape[-1])).squeeze(0)
        alea = stds.mean(0).sum(1)
        epi = means.std(0).sum(1) if self.B > 1 else torch.zeros(s.shape[0])
        return out_s, alea, epi, out_c, out_t
