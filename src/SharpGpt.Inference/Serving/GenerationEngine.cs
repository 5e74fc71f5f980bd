using System.Diagnostics;
using System.Threading.Channels;
using SharpGpt.Inference.Generation;
using SharpGpt.Inference.Sampling;
using SharpGpt.Inference.Scoring;
using SharpGpt.Model;
using SharpGpt.Model.Backends;
using SharpGpt.Model.Inference;
using SharpGpt.Tensors.Kernels;

namespace SharpGpt.Inference.Serving;

/// <summary>
/// Continuous batching over one <see cref="InferenceSession"/>: requests wait in a bounded queue, are admitted
/// into free KV slots between steps, and every step runs one batched forward pass over all active sequences —
/// one row per decoding sequence, and chunks of prompts being prefilled with the rest of the row budget, so a
/// long prompt never stalls the others. Each request has its own sampler and seed; the engine's matmuls are
/// row-invariant, so a request's tokens do not depend on what else is in the batch. A cancelled request
/// (client gone, timeout) releases its slot before the next step.
/// </summary>
public sealed class GenerationEngine : IDisposable
{
    private readonly LanguageModel _model;
    private readonly IInferenceSession _session;
    private readonly EngineOptions _options;
    private readonly Thread _loop;
    private readonly Lock _queueLock = new();
    private readonly LinkedList<Sequence> _queue = new();
    private readonly Sequence?[] _slots;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly List<SequenceChunk> _chunks = [];
    private readonly List<(Sequence Sequence, int Length, bool Prefill)> _owners = [];
    private volatile bool _stopping;
    private long _order;

    public GenerationEngine(LanguageModel model, EngineOptions options)
    {
        options.Validate(model.Config);
        _model = model;
        _options = options;
        _session = ComputeBackends.Default.CreateInferenceSession(model.Model, options.MaxSequences, options.MaxTokensPerStep, options.MaxContext);
        _slots = new Sequence?[options.MaxSequences];
        _loop = new Thread(Loop) { IsBackground = true, Name = "sharpgpt-engine" };
        _loop.Start();
    }

    public LanguageModel Model => _model;

    public EngineOptions Options => _options;

    public int MaxContext => _session.MaxContext;

    public EngineStatistics Statistics { get; } = new();

    /// <summary>True while the loop is running (for readiness).</summary>
    public bool IsRunning => _loop.IsAlive && !_stopping;

    /// <summary>
    /// Queues a request. Returns null when the queue is full (the caller answers 429). The returned reader
    /// yields the request's events and completes after <see cref="Completed"/>; it fails with
    /// <see cref="OperationCanceledException"/> if the request is cancelled.
    /// </summary>
    public ChannelReader<EngineEvent>? TrySubmit(EngineRequest request, CancellationToken cancellation)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        if (request.Prompt.Count == 0 || request.Prompt.Count >= _session.MaxContext && request.Options.MaxTokens > 0 || request.Prompt.Count > _session.MaxContext)
        {
            throw new SharpGptException($"The prompt has {request.Prompt.Count} tokens; the context holds {_session.MaxContext}.");
        }
        if (request.Prompt.Any(t => (uint)t >= (uint)_model.Config.VocabSize))
        {
            throw new SharpGptException($"The prompt has token ids outside the vocabulary of {_model.Config.VocabSize}.");
        }
        var sequence = new Sequence(request, cancellation, _model, Interlocked.Increment(ref _order));
        lock (_queueLock)
        {
            if (_queue.Count >= _options.QueueLength && FreeSlot() < 0)
            {
                Statistics.OnRejected();
                return null;
            }
            _queue.AddLast(sequence);
            Statistics.QueueDepth = _queue.Count;
        }
        cancellation.Register(() => _wake.Release());
        _wake.Release();
        return sequence.Channel.Reader;
    }

    private int FreeSlot() => Array.IndexOf(_slots, null);

    private void Loop()
    {
        while (!_stopping)
        {
            try
            {
                DropCancelled();
                Admit();
                if (!BuildStep())
                {
                    _wake.Wait(TimeSpan.FromMilliseconds(200));
                    continue;
                }
                _session.Step(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_chunks));
                Statistics.OnStep();
                ProcessStep();
            }
            catch (Exception ex) when (!_stopping)
            {
                // A failure must not take the server down: fail the sequences of this step and carry on.
                foreach ((Sequence sequence, _, _) in _owners)
                {
                    Finish(sequence, ex);
                }
                _owners.Clear();
            }
        }
    }

    private void DropCancelled()
    {
        for (int s = 0; s < _slots.Length; s++)
        {
            if (_slots[s] is Sequence sequence && sequence.Cancellation.IsCancellationRequested)
            {
                Finish(sequence, new OperationCanceledException(sequence.Cancellation));
            }
        }
        lock (_queueLock)
        {
            for (var node = _queue.First; node != null;)
            {
                var next = node.Next;
                if (node.Value.Cancellation.IsCancellationRequested)
                {
                    node.Value.Channel.Writer.TryComplete(new OperationCanceledException(node.Value.Cancellation));
                    Statistics.OnCancelled();
                    _queue.Remove(node);
                }
                node = next;
            }
            Statistics.QueueDepth = _queue.Count;
        }
    }

    private void Admit()
    {
        lock (_queueLock)
        {
            int slot;
            while (_queue.First != null && (slot = FreeSlot()) >= 0)
            {
                Sequence sequence = _queue.First.Value;
                _queue.RemoveFirst();
                sequence.Slot = slot;
                _slots[slot] = sequence;
                _session.Reset(slot);
                Statistics.OnAdmitted(sequence.Prompt.Length);
            }
            Statistics.QueueDepth = _queue.Count;
        }
        UpdateOccupancy();
    }

    /// <summary>Decoding sequences first (one row each), then prompt chunks in arrival order with the remaining budget.</summary>
    private bool BuildStep()
    {
        _chunks.Clear();
        _owners.Clear();
        int budget = _options.MaxTokensPerStep;
        foreach (Sequence sequence in _slots.OfType<Sequence>().Where(s => s.Decoding).OrderBy(s => s.Order))
        {
            sequence.Next[0] = sequence.LastToken;
            _chunks.Add(new SequenceChunk(sequence.Slot, sequence.Next, LogitsRequest.Last, Decoding: true));
            _owners.Add((sequence, 1, false));
            budget--;
        }
        foreach (Sequence sequence in _slots.OfType<Sequence>().Where(s => !s.Decoding).OrderBy(s => s.Order))
        {
            if (budget <= 0)
            {
                break;
            }
            int length = Math.Min(budget, sequence.Prompt.Length - sequence.Prefilled);
            bool last = sequence.Prefilled + length == sequence.Prompt.Length;
            LogitsRequest logits = sequence.Request.ScorePrompt ? LogitsRequest.All : last ? LogitsRequest.Last : LogitsRequest.None;
            _chunks.Add(new SequenceChunk(sequence.Slot, sequence.Prompt.AsMemory(sequence.Prefilled, length), logits));
            _owners.Add((sequence, length, true));
            budget -= length;
        }
        return _chunks.Count > 0;
    }

    private void ProcessStep()
    {
        for (int c = 0; c < _owners.Count; c++)
        {
            (Sequence sequence, int length, bool prefill) = _owners[c];
            int firstRow = _session.FirstLogitRow(c);
            if (prefill)
            {
                if (sequence.Request.ScorePrompt)
                {
                    for (int i = 0; i < length; i++)
                    {
                        int position = sequence.Prefilled + i;
                        if (position + 1 < sequence.Prompt.Length)
                        {
                            sequence.PromptScores.Add(Score(_session.Logits(firstRow + i), sequence.Prompt[position + 1], sequence.Request.PromptTopLogprobs));
                        }
                    }
                }
                sequence.Prefilled += length;
                if (sequence.Prefilled < sequence.Prompt.Length)
                {
                    continue;
                }
                if (sequence.Request.ScorePrompt)
                {
                    sequence.Channel.Writer.TryWrite(new PromptScored([null, .. sequence.PromptScores.Select(s => (TokenScore?)s)]));
                }
                if (sequence.Request.Options.MaxTokens == 0)
                {
                    Finish(sequence, FinishReason.Length);
                    continue;
                }
                sequence.Decoding = true;
                Generate(sequence, _session.Logits(sequence.Request.ScorePrompt ? firstRow + length - 1 : firstRow));
            }
            else
            {
                Generate(sequence, _session.Logits(firstRow));
            }
        }
        _owners.Clear();
        UpdateOccupancy();
    }

    private static TokenScore Score(ReadOnlySpan<float> logits, int target, int top)
    {
        double lse = SoftmaxCrossEntropy.LogSumExp(logits);
        return new TokenScore(logits[target] - lse, TokenSampler.ArgMax(logits) == target, top > 0 ? Logprobs.Top(logits, top, lse) : null);
    }

    /// <summary>Samples the next token, streams it, and decides whether the sequence is done.</summary>
    private void Generate(Sequence sequence, ReadOnlySpan<float> logits)
    {
        GenerationOptions options = sequence.Request.Options;
        int token = sequence.Sampler.Sample(logits);
        double lse = SoftmaxCrossEntropy.LogSumExp(logits);
        double logprob = logits[token] - lse;
        TokenLogprob[]? top = options.TopLogprobs > 0 ? Logprobs.Top(logits, options.TopLogprobs, lse) : null;
        if (sequence.Generated++ == 0)
        {
            Statistics.OnFirstToken(sequence.Clock.Elapsed);
        }
        Statistics.OnToken();
        if (options.StopAtEndOfText && token == _model.Config.EndOfTextTokenId)
        {
            Emit(sequence, token, sequence.Stops.Push(sequence.Decoder?.Flush() ?? "") + sequence.Stops.Flush(), logprob, top, FinishReason.Stop);
            return;
        }
        string text = sequence.Stops.Push(sequence.Decoder?.Push(token) ?? "");
        if (sequence.Stops.Stopped)
        {
            Emit(sequence, token, text, logprob, top, FinishReason.Stop);
            return;
        }
        int position = sequence.Prompt.Length + sequence.Generated - 1;
        if (sequence.Generated >= options.MaxTokens || position + 1 >= _session.MaxContext)
        {
            text += sequence.Stops.Push(sequence.Decoder?.Flush() ?? "");
            Emit(sequence, token, sequence.Stops.Stopped ? text : text + sequence.Stops.Flush(), logprob, top,
                sequence.Stops.Stopped ? FinishReason.Stop : FinishReason.Length);
            return;
        }
        Emit(sequence, token, text, logprob, top, null);
        sequence.LastToken = token;
    }

    private void Emit(Sequence sequence, int token, string text, double logprob, TokenLogprob[]? top, FinishReason? finish)
    {
        sequence.Channel.Writer.TryWrite(new TokenGenerated(new GenerationEvent(token, text, logprob, top, finish)));
        if (finish is FinishReason reason)
        {
            Finish(sequence, reason);
        }
    }

    private void Finish(Sequence sequence, FinishReason reason)
    {
        sequence.Channel.Writer.TryWrite(new Completed(reason, sequence.Prompt.Length, sequence.Generated));
        sequence.Channel.Writer.TryComplete();
        Statistics.OnCompleted();
        Release(sequence);
    }

    private void Finish(Sequence sequence, Exception error)
    {
        sequence.Channel.Writer.TryComplete(error);
        if (error is OperationCanceledException)
        {
            Statistics.OnCancelled();
        }
        Release(sequence);
    }

    private void Release(Sequence sequence)
    {
        if (sequence.Slot >= 0 && _slots[sequence.Slot] == sequence)
        {
            _slots[sequence.Slot] = null;
            _session.Reset(sequence.Slot);
        }
        sequence.Slot = -1;
        UpdateOccupancy();
    }

    private void UpdateOccupancy()
    {
        int active = 0;
        long used = 0;
        for (int s = 0; s < _slots.Length; s++)
        {
            if (_slots[s] != null)
            {
                active++;
                used += _session.Length(s);
            }
        }
        Statistics.ActiveSequences = active;
        Statistics.KvCacheOccupancy = (double)used / ((long)_slots.Length * _session.MaxContext);
    }

    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }
        _stopping = true;
        _wake.Release();
        _loop.Join(TimeSpan.FromSeconds(10));
        lock (_queueLock)
        {
            foreach (Sequence sequence in _queue)
            {
                sequence.Channel.Writer.TryComplete(new OperationCanceledException("The engine is shutting down."));
            }
            _queue.Clear();
        }
        foreach (Sequence sequence in _slots.OfType<Sequence>())
        {
            sequence.Channel.Writer.TryComplete(new OperationCanceledException("The engine is shutting down."));
        }
        _session.Dispose();
    }

    /// <summary>One request's state inside the engine (touched only by the loop thread once admitted).</summary>
    private sealed class Sequence
    {
        public Sequence(EngineRequest request, CancellationToken cancellation, LanguageModel model, long order)
        {
            Request = request;
            Cancellation = cancellation;
            Order = order;
            Prompt = [.. request.Prompt];
            Sampler = new TokenSampler(request.Options.Sampling, model.Config.VocabSize);
            Decoder = model.Tokenizer == null ? null : new IncrementalDecoder(model.Tokenizer);
            Stops = new StopSequenceMatcher(request.Options.Stop);
        }

        public EngineRequest Request { get; }
        public CancellationToken Cancellation { get; }
        public long Order { get; }
        public int[] Prompt { get; }
        public TokenSampler Sampler { get; }
        public IncrementalDecoder? Decoder { get; }
        public StopSequenceMatcher Stops { get; }
        public Channel<EngineEvent> Channel { get; } = System.Threading.Channels.Channel.CreateUnbounded<EngineEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        public Stopwatch Clock { get; } = Stopwatch.StartNew();
        public List<TokenScore> PromptScores { get; } = [];
        public int[] Next { get; } = new int[1];
        public int Slot { get; set; } = -1;
        public int Prefilled { get; set; }
        public bool Decoding { get; set; }
        public int Generated { get; set; }
        public int LastToken { get; set; }
    }
}
