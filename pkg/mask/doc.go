// Package mask defines the masks studied by masklab, one definition each, named by a
// small text syntax: attention masks (decoder self-attention and cross-attention),
// decoder-input corruption, loss masks, and score modifications (soft masks).
//
// An attention mask (Attention) is a function of (batch, head, query index, key index)
// and the batch's side data (valid lengths, segment ids, prefix lengths) that returns a
// boolean GoMLX node, true where the query may attend to the key, in the spirit of
// FlexAttention's mask_mod. The same definition builds the [B,1|H,Q,K] tensor inside
// training graphs (Env.Build) and draws pictures (Attention.Grid, ASCII). And, Or and
// Not compose masks. A decoder-input corruption (Corruption) chooses, on the host,
// which teacher-forcing inputs to replace with MASK (or UNK); a loss mask (Loss) gives
// per-target-position weights, the loss being sum(w_i*l_i)/sum(w_i). A score
// modification (Score; FlexAttention's score_mod, xFormers' attention biases) changes
// the attention scores before the softmax, per head and per (query, key): an additive
// bias (ALiBi, T5's learned relative positions) or a transform (soft-capping). It is
// composed with a boolean mask, which still decides what is allowed: a pair the mask
// forbids stays forbidden whatever the score modification does.
//
// Most attention masks allow, in every query row, a union of a few key intervals:
// Attention.Intervals tells which (causal, doc, window, chunk, prefix, pad and their &,
// | and ! compositions; not random atoms or user functions), RowIntervals computes them
// for a batch on the host in O(B·Q) memory, and RowIntervals.Blocks lists the (query
// block, key block) tiles that hold an allowed pair: the plan of sparse-aware attention
// in pkg/layers, whose cost then follows the mask instead of Q·K.
//
// # Spec syntax
//
// Each kind has its own namespace (so "full" means attend-everything for attention and
// hide-everything for input). Whitespace is ignored. Arguments are numbers, bare words
// or quoted strings ("..." or '...').
//
//   - self, cross (ParseAttention, ParseCross): atoms combined with & (and), | (or),
//     ! (not) and parentheses, precedence ! over & over |:
//     "causal & pad", "pad & band(3)", "!(causal | doc)", "prefix & (window(2) | chunk(4))".
//   - input (ParseCorruption) and loss (ParseLoss): one atom with arguments, no algebra:
//     "span(0.15, 3)", `interactive(keep, "我 是")`, "plw(0.1)".
//   - score (ParseScore): atoms with arguments joined by +, applied left to right:
//     "alibi", "t5(32, 128)", "softcap(50)", "alibi + softcap(30)" (the ALiBi bias is
//     added, then the sum soft-capped); "none" changes nothing.
//
// Parse errors (*SyntaxError) name the offending text and its 1-based column, list the
// known names of the kind and suggest the closest. Names(kind) lists the names;
// RegisterAttention, RegisterCorruption, RegisterLoss and RegisterScore add user
// strategies that then work everywhere built-ins do (specs, the CLI, pictures, sweeps);
// a user score modification is NewScoreBias (a bias from the index nodes) or
// NewScoreMod (a function of the scores and the index nodes).
//
// # Names
//
// Positions are 0-based; Q, K are the padded sizes, Qv, Kv the valid lengths, P the
// prefix length. Random attention atoms are active only when training (Env.Training),
// draw from the caller's random source (Env.Uniform, resampled every step) and allow
// everything at evaluation, like dropout.
//
//	kind   name            arguments            meaning
//	self/  full                                 every query attends to every key
//	cross  causal                               key <= query (top-left aligned when Q != K)
//	       causal_br                            key <= query + K - Q (bottom-right aligned)
//	       pad                                  key < Kv
//	       qpad                                 query < Qv
//	       prefix                               prefix-LM: key < P, or key <= query
//	       doc                                  same segment (document) id
//	       window          (w) w >= 0           |query - key| <= w
//	       sink            (n) n >= 0           key < n, whatever the padding (attention sinks)
//	       chunk           (n) n >= 1           floor(query/n) == floor(key/n)
//	       dilated         (d) d >= 1           (query - key) mod d == 0
//	       band            (w) w >= 0           |key - floor(query * Kv / Qv)| <= w
//	       random          (p) in [0,1]         each (query, key) masked w.p. p (training only)
//	       keydrop         (p) in [0,1]         each key masked for all queries w.p. p (training only)
//	input  none                                 hide nothing
//	       full                                 hide every position after BOS
//	       partial         (k) k >= 1           hide positions p >= 1 with (p-1) mod k == 0
//	       random          (p) in [0,1]         hide each position after BOS w.p. p
//	       span            (p, mean_len)        hide ~fraction p in spans, geometric lengths of mean mean_len >= 1
//	       drop            (p) in [0,1]         word dropout: replace each position after BOS by UNK w.p. p
//	       interactive     (freq, f)            hide tokens among the fraction f most frequent ids (Corpus.Freq)
//	                       (copy, p)            hide w.p. p the tokens that also occur in the source
//	                       (keep, "w1 w2 ...")  hide every token except the keep-list (Corpus.Lookup/Tokenize)
//	       mlm             (rate[, mask,        masked-LM corruption of a BERT's inputs (model kind bert): choose
//	                        random])            tokens w.p. rate; of them mask -> MASK, random -> random id, rest kept
//	                                            (default 0.8, 0.1: BERT); the loss is on the chosen (MLM.ApplyBatch)
//	       mlm_span        (rate, mean_len)     mlm choosing spans of geometric length mean_len (SpanBERT)
//	       mlm_word        (rate)               mlm choosing whole words (MLMBatch.Words: CC-CEDICT words, datasets)
//	       schedule        (name, from, to,     ramp name's first argument (its rate) linearly from `from` at
//	                        steps, args...)     step 0 to `to` at step `steps`, then hold; args follow the rate:
//	                                            schedule(random, 0, 0.3, 1000), schedule(span, 0, 0.15, 1000, 3)
//	loss   all                                  weight 1 on every non-padding target token
//	       completion                           weight 0 on prompt tokens (position < prompt length), 1 after
//	       plw             (w) in [0,1]         prompt tokens weight w, completion tokens 1
//	score  none                                 the scores as they are (the default)
//	       alibi                                ALiBi: head h adds -m_h*|query - key|, m_h = 2^(-8(h+1)/H) (H a power
//	                                            of 2; otherwise BLOOM's rule, AlibiSlopes)
//	       t5              (buckets,            learned T5 relative position bias: a [buckets, H] table, zero at start,
//	                        max_distance[,      indexed by the bucket of key - query (T5Bucket; causal buckets unless
//	                        bidirectional])     bidirectional); t5 alone is t5(32, 128)
//	       softcap         (c) c > 0            c*tanh(scores/c), as Gemma 2 (a transform, not a bias)
//
// # Pictures of input and loss strategies
//
// What each input strategy does to the decoder input "<bos> 我 是 一 个 程 序 员" of the
// target 我是一个程序员 with the source 程序员 (seed 0, step 0; hidden positions in
// brackets, replaced by <mask>, or <unk> for drop), as
// "masklab corrupt SPEC --text 我是一个程序员 --source 程序员" shows it; a schedule is at
// its starting rate at step 0; for the mlm strategies, the chosen positions (of which
// 80% become <mask>, 10% a random id) and each token its own word:
//
//	input none                             <bos> 我 是 一 个 程 序 员
//	input full                             <bos> [我] [是] [一] [个] [程] [序] [员]
//	input partial(2)                       <bos> [我] 是 [一] 个 [程] 序 [员]
//	input partial(3)                       <bos> [我] 是 一 [个] 程 序 [员]
//	input random(0.3)                      <bos> 我 [是] [一] 个 程 [序] [员]
//	input span(0.4, 2)                     <bos> 我 [是] 一 个 程 [序] [员]
//	input drop(0.3)                        <bos> 我 [是] [一] 个 程 [序] [员]
//	input interactive(freq, 0.3)           <bos> [我] 是 一 个 [程] [序] [员]
//	input interactive(copy, 1)             <bos> 我 是 一 个 [程] [序] [员]
//	input interactive(keep, "我 是")         <bos> 我 是 [一] [个] [程] [序] [员]
//	input schedule(random, 0, 0.3, 1000)   <bos> 我 是 一 个 程 序 员
//	input mlm(0.3)                         <bos> [我] [是] 一 个 [程] [序] 员
//	input mlm_span(0.4, 2)                 <bos> [我] 是 一 个 [程] [序] [员]
//	input mlm_word(0.3)                    <bos> [我] [是] 一 个 [程] [序] 员
//
// The weights of each loss strategy on the same 7 target tokens, the first 3 of them the
// prompt, padded to 9 ("masklab mask --kind loss SPEC --text 我是一个程序员 --prompt-len 3
// --pad-to 9"):
//
//	loss  all                              1 1 1 1 1 1 1 0 0
//	loss  completion                       0 0 0 1 1 1 1 0 0
//	loss  plw(0.1)                         0.1 0.1 0.1 1 1 1 1 0 0
//
// # Using the strategies in training
//
// Attention: env := NewEnv(g, B, H, Q, K, Side{QueryLen: ..., KeyLen: ..., QuerySeg: ...,
// Training: true, Uniform: rng}) then env.Build(m) gives the bool [B,1|H,Q,K] tensor; a
// mask that needs side data the batch lacks is an error naming it.
//
// Input: fill a Corpus once per dataset (MASK/UNK ids, Freq, Lookup/Tokenize), call
// Corruption.Check(corpus), then per batch Corruption.Apply(Batch{IDs, B, T, Lens,
// Sources, Step, Seed}, corpus); example i of a step draws from ExampleRNG(Seed, Step, i),
// so corruption is reproducible and resampled every step.
//
// Loss: Loss.Weights(T, validLen, promptLen) or Loss.BatchWeights; the loss is
// sum(w_i*l_i)/sum(w_i), skipping batches whose weights sum to 0.
//
// Score: with an Env built as for attention (Side.Variable set when the modification
// has parameters, e.g. t5's table), apply, err := env.BuildScore(s) once per forward
// pass, then scores = apply(scores) in every layer on the scaled scores [B,H,Q,K],
// before the mask's -1e9 is added. Score.View evaluates it for pictures.
//
// BOS (decoder input position 0) is never hidden, and padding never has loss weight.
// Hidden inputs become Corpus.MaskID, except for drop, which uses Corpus.UnkID.
package mask
