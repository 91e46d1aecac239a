#!/usr/bin/env python3
"""An independent forward pass for the model tests: reads a GGUF file with
its own parser, dequantises each tensor type from its block layout (ggml's
ggml-common.h, as REFERENCES.md section 10 states it), and runs the
architecture's definition in float64 with NumPy, dense attention masked by
the layer's window. Writes the logits of the given tokens as .npy.

usage: model_ref.py MODEL.gguf OUT.npy TOKEN [TOKEN ...]"""
import struct
import sys

import numpy as np


def read_gguf(path):
    b = open(path, 'rb').read()
    o = [0]

    def rd(fmt):
        v = struct.unpack_from('<' + fmt, b, o[0])
        o[0] += struct.calcsize('<' + fmt)
        return v[0]

    def rstr():
        n = rd('Q')
        s = b[o[0]:o[0] + n]
        o[0] += n
        return s.decode('utf-8', 'replace')

    fmts = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}

    def rval(t):
        if t == 8:
            return rstr()
        if t == 9:
            et, n = rd('I'), rd('Q')
            return [rval(et) for _ in range(n)]
        return rd(fmts[t])

    assert b[:4] == b'GGUF'
    o[0] = 4
    rd('I')
    nt, nkv = rd('Q'), rd('Q')
    meta = {}
    for _ in range(nkv):
        k = rstr()
        meta[k] = rval(rd('I'))
    infos = []
    for _ in range(nt):
        name = rstr()
        nd = rd('I')
        ne = [rd('Q') for _ in range(nd)]
        infos.append((name, ne, rd('I'), rd('Q')))
    align = meta.get('general.alignment', 32)
    data = (o[0] + align - 1) // align * align
    tensors = {}
    for name, ne, ty, off in infos:
        n = int(np.prod(ne))
        tensors[name] = dequant(b, data + off, ty, n).reshape(list(reversed(ne)))
    return meta, tensors


def f16(u):
    return np.frombuffer(np.asarray(u, dtype='<u2').tobytes(), dtype='<f2').astype(np.float64)


def dequant(b, at, ty, n):
    if ty == 0:
        return np.frombuffer(b, '<f4', n, at).astype(np.float64)
    if ty == 1:
        return np.frombuffer(b, '<f2', n, at).astype(np.float64)
    if ty == 30:
        u = np.frombuffer(b, '<u2', n, at).astype(np.uint32) << 16
        return u.view(np.float32).astype(np.float64)
    if ty == 8:                                    # q8_0: d, 32 int8
        blk = np.frombuffer(b, np.uint8, n // 32 * 34, at).reshape(-1, 34)
        d = f16(blk[:, 0].astype(np.uint16) | blk[:, 1].astype(np.uint16) << 8)
        return (blk[:, 2:].view(np.int8) * d[:, None]).reshape(-1)
    if ty == 6:                                    # q5_0: d, 32 high bits, 16 bytes
        blk = np.frombuffer(b, np.uint8, n // 32 * 22, at).reshape(-1, 22)
        d = f16(blk[:, 0].astype(np.uint16) | blk[:, 1].astype(np.uint16) << 8)
        qh = blk[:, 2:6].copy().view('<u4')[:, 0]
        qs = blk[:, 6:]
        j = np.arange(16)
        lo = (qs & 15) | (((qh[:, None] >> j) & 1) << 4)
        hi = (qs >> 4) | (((qh[:, None] >> (j + 16)) & 1) << 4)
        return ((np.concatenate([lo, hi], 1).astype(np.int64) - 16) * d[:, None]).reshape(-1)
    if ty == 12:                                   # q4_K: d, dmin, 12 scale bytes, 128 nibbles
        blk = np.frombuffer(b, np.uint8, n // 256 * 144, at).reshape(-1, 144)
        d = f16(blk[:, 0].astype(np.uint16) | blk[:, 1].astype(np.uint16) << 8)
        dmin = f16(blk[:, 2].astype(np.uint16) | blk[:, 3].astype(np.uint16) << 8)
        q = blk[:, 4:16].astype(np.int64)
        sc = np.zeros((len(blk), 8), np.int64)
        mn = np.zeros((len(blk), 8), np.int64)
        for j in range(8):
            if j < 4:
                sc[:, j], mn[:, j] = q[:, j] & 63, q[:, j + 4] & 63
            else:
                sc[:, j] = (q[:, j + 4] & 15) | ((q[:, j - 4] >> 6) << 4)
                mn[:, j] = (q[:, j + 4] >> 4) | ((q[:, j] >> 6) << 4)
        qs = blk[:, 16:].astype(np.int64).reshape(-1, 4, 32)
        out = np.zeros((len(blk), 8, 32))
        for k in range(4):
            out[:, 2 * k] = d[:, None] * sc[:, 2 * k, None] * (qs[:, k] & 15) - dmin[:, None] * mn[:, 2 * k, None]
            out[:, 2 * k + 1] = d[:, None] * sc[:, 2 * k + 1, None] * (qs[:, k] >> 4) - dmin[:, None] * mn[:, 2 * k + 1, None]
        return out.reshape(-1)
    if ty == 14:                                   # q6_K: ql[128], qh[64], int8 sc[16], d
        blk = np.frombuffer(b, np.uint8, n // 256 * 210, at).reshape(-1, 210)
        d = f16(blk[:, 208].astype(np.uint16) | blk[:, 209].astype(np.uint16) << 8)
        sc = blk[:, 192:208].view(np.int8).astype(np.int64)
        out = np.zeros((len(blk), 256))
        for half in range(2):
            ql = blk[:, 64 * half:64 * half + 64].astype(np.int64)
            qh = blk[:, 128 + 32 * half:128 + 32 * half + 32].astype(np.int64)
            for part, (lo, shift, hs) in enumerate([(0, 0, 0), (32, 0, 2), (0, 4, 4), (32, 4, 6)]):
                l = np.arange(32)
                q = ((ql[:, l + lo] >> shift) & 15) | (((qh[:, l] >> hs) & 3) << 4)
                s = sc[:, 8 * half + 2 * part + l // 16]
                out[:, 128 * half + 32 * part + l] = d[:, None] * s * (q - 32)
        return out.reshape(-1)
    raise SystemExit('model_ref.py: tensor type %d not read' % ty)


def rms(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def rope(x, base, neox):
    n, d = x.shape[-2], x.shape[-1]
    pos = np.arange(n)[:, None]
    theta = pos * base ** (-2.0 * np.arange(d // 2) / d)
    c, s = np.cos(theta), np.sin(theta)
    y = x.copy()
    a = np.arange(d // 2) if neox else 2 * np.arange(d // 2)
    b = a + d // 2 if neox else a + 1
    y[..., a] = x[..., a] * c - x[..., b] * s
    y[..., b] = x[..., a] * s + x[..., b] * c
    return y


def forward(meta, t, tokens):
    arch = meta['general.architecture']
    gemma = arch == 'gemma3'
    g = lambda k, dflt=None: meta.get('%s.%s' % (arch, k), dflt)
    L, d, H = g('block_count'), g('embedding_length'), g('attention.head_count')
    KV, hd = g('attention.head_count_kv', H), g('attention.key_length', d // H)
    eps, base = g('attention.layer_norm_rms_epsilon', 1e-6), g('rope.freq_base', 10000.0)
    window = g('attention.sliding_window', 0)
    n = len(tokens)
    x = t['token_embd.weight'][tokens] * (np.sqrt(d) if gemma else 1.0)
    for il in range(L):
        p = 'blk.%d.' % il
        local = gemma and window and (il + 1) % 6 != 0
        h = rms(x, t[p + 'attn_norm.weight'], eps)
        q = (h @ t[p + 'attn_q.weight'].T).reshape(n, H, hd).transpose(1, 0, 2)
        k = (h @ t[p + 'attn_k.weight'].T).reshape(n, KV, hd).transpose(1, 0, 2)
        v = (h @ t[p + 'attn_v.weight'].T).reshape(n, KV, -1).transpose(1, 0, 2)
        if gemma:
            q = rms(q, t[p + 'attn_q_norm.weight'], eps)
            k = rms(k, t[p + 'attn_k_norm.weight'], eps)
        b = 10000.0 if local else base
        q, k = rope(q, b, gemma), rope(k, b, gemma)
        i, j = np.arange(n)[:, None], np.arange(n)[None, :]
        keep = (j <= i) & ((i - j < window) if local else True)
        o = np.zeros((H, n, v.shape[-1]))
        for hh in range(H):
            s = q[hh] @ k[hh * KV // H].T / np.sqrt(hd)
            s = np.where(keep, s, -np.inf)
            s = np.exp(s - s.max(-1, keepdims=True))
            o[hh] = (s / s.sum(-1, keepdims=True)) @ v[hh * KV // H]
        a = o.transpose(1, 0, 2).reshape(n, -1) @ t[p + 'attn_output.weight'].T
        if gemma:
            a = rms(a, t[p + 'post_attention_norm.weight'], eps)
        x = x + a
        h = rms(x, t[p + 'ffn_norm.weight'], eps)
        gate, up = h @ t[p + 'ffn_gate.weight'].T, h @ t[p + 'ffn_up.weight'].T
        if gemma:
            act = 0.5 * gate * (1 + np.tanh(np.sqrt(2 / np.pi) * (gate + 0.044715 * gate ** 3)))
        else:
            act = gate / (1 + np.exp(-gate))
        f = (act * up) @ t[p + 'ffn_down.weight'].T
        if gemma:
            f = rms(f, t[p + 'post_ffw_norm.weight'], eps)
        x = x + f
    x = rms(x, t['output_norm.weight'], eps)
    out = t.get('output.weight', t['token_embd.weight'])
    return x @ out.T


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    meta, t = read_gguf(sys.argv[1])
    logits = forward(meta, t, [int(a) for a in sys.argv[3:]])
    np.save(sys.argv[2], logits.astype(np.float32))


if __name__ == '__main__':
    main()
