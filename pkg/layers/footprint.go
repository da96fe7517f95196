package layers

// Footprint is an estimate of what one training step of a model needs, from its
// configuration alone (no graph is built), so that a configuration too large for the
// machine is refused in seconds rather than found out after minutes of swapping.
type Footprint struct {
	// Params counts the trainable parameters.
	Params int64
	// Frozen counts the parameters held but not trained (LoRA's base weights): a value
	// each, no gradient and no optimizer state.
	Frozen int64
	// Activations counts the float32 values of one training step's forward pass that the
	// backward pass keeps (and, as many again, their gradients), for batch rows of srcLen
	// source and tgtLen target positions.
	Activations int64
	// FLOPs is the arithmetic of one training step, forward and backward (3x forward).
	FLOPs float64
}

// Footprint estimates the parameters, activations and arithmetic of a training step with
// batch rows of srcLen source positions (0 for decoder-only models) and tgtLen target
// positions. It counts the large tensors (projections, feed-forward layers, attention
// scores and weights, logits) and ignores small ones, so it is a lower bound within a
// small factor: good for refusing what cannot fit, not for accounting.
func (c Config) Footprint(batch, srcLen, tgtLen int) Footprint {
	c = c.WithDefaults()
	if c.Arch != nil {
		return c.archFootprint(batch, tgtLen)
	}
	if c.Bert != nil && IsBert(c.Kind) {
		return c.bertFootprint(batch, srcLen, tgtLen)
	}
	B, S, T := int64(batch), int64(srcLen), int64(tgtLen)
	D, F, H := int64(c.DModel), int64(c.FF), int64(max(c.Heads, 1))
	V, SV := int64(c.Vocab), int64(c.SrcVocab)
	var f Footprint
	var fwd float64 // forward multiply-adds x 2
	matmul := func(rows, in, out int64) { fwd += 2 * float64(rows) * float64(in) * float64(out) }

	attnParams := 4 * (D*D + D)
	ffnParams := 2*D*F + F + D
	norm := 2 * D
	// block adds one Transformer layer over L queries attending to K keys (self or cross).
	attention := func(L, K int64) {
		f.Activations += B*L*4*D + 4*B*H*L*K // q, k, v, o; scores, bias, softmax, masked weights
		matmul(B*L, D, 4*D)
		fwd += 4 * float64(B*L) * float64(K) * float64(D) // q·kᵀ and weights·v
	}
	ffn := func(L int64) {
		f.Activations += B*L*(2*F+4*D) + B*L*2*D // hidden pre/post activation, residuals, norms
		matmul(B*L, D, F)
		matmul(B*L, F, D)
	}
	f.Params += V * D // decoder embeddings
	if c.Positions == PosLearned && c.Kind != KindLSTM {
		f.Params += int64(c.MaxLen) * D
		if c.Kind == KindSeq2Seq {
			f.Params += int64(c.MaxLen) * D // the encoder's table
		}
	}
	f.Activations += B * T * D * 2
	switch c.Kind {
	case KindLSTM:
		// Encoder and decoder LSTMs (4 gates over input and state, 8 biases), the
		// attention over the encoder, and the combining layer.
		f.Params += SV*D + int64(c.EncLayers+c.DecLayers)*(8*D*D+8*D) + attnParams + 2*D*D + D
		f.Activations += B * (S + T) * D * 12 * int64(c.EncLayers+c.DecLayers)
		matmul(B*(S+T), 2*D, 4*D*int64(c.EncLayers+c.DecLayers))
		f.Activations += B * T * S * 2
		fwd += 4 * float64(B*T) * float64(S) * float64(D)
	default:
		for range c.DecLayers {
			f.Params += attnParams + ffnParams + 2*norm
			attention(T, T)
			ffn(T)
			if c.Kind == KindSeq2Seq {
				f.Params += attnParams + norm
				attention(T, S)
			}
		}
		f.Params += norm
		if c.Kind == KindSeq2Seq {
			f.Params += SV*D + norm
			f.Activations += B * S * D * 2
			for range c.EncLayers {
				f.Params += attnParams + ffnParams + 2*norm
				attention(S, S)
				ffn(S)
			}
		}
	}
	// Output projection and the loss: logits, log-softmax, one-hot labels, their product.
	switch {
	case !c.Tied:
		f.Params += D*V + V
	case c.Kind != KindLSTM:
		f.Params += V // a tied Transformer output keeps its bias; a tied LSTM has none
	}
	f.Activations += 4 * B * T * V
	matmul(B*T, D, V)
	f.Params += c.Score.Params(int(H)) // a learned score table (t5)
	f.FLOPs = 3 * fwd
	return f
}
