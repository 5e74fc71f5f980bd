using System.Diagnostics;
using SharpGpt.Model;
using SharpGpt.Model.Backends;
using SharpGpt.Model.Inference;
using SharpGpt.Model.Training;
using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Kernels.Gemm;
using SharpGpt.Tensors.Kernels.Quantized;
using SharpGpt.Tensors.Memory;
using SharpGpt.Tensors.Random;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Cli.Bench;

/// <summary>One measured number.</summary>
internal sealed record BenchResult(string Name, double Value, string Unit, string Detail);

/// <summary>
/// End-to-end engine throughput on a preset's shapes with random weights: the GEMM shapes of one block,
/// training (forward + backward + AdamW), prompt prefill, single-stream decoding, and peak memory.
/// Each number is the median of several timed repetitions after a warm-up.
/// </summary>
internal sealed unsafe class EngineBenchmark
{
    private readonly GptConfig _config;
    private readonly int _repeats;

    /// <summary>Decode runs per kind of weights, each between two reads (see <see cref="Decode"/>).</summary>
    private readonly int _decodeRuns;
    private readonly Action<string> _log;
    private double _peak;

    public EngineBenchmark(GptConfig config, bool quick, Action<string> log)
    {
        _config = config;
        _repeats = quick ? 2 : 5;
        _decodeRuns = quick ? 2 : 9;
        _log = log;
        Quick = quick;
    }

    public bool Quick { get; }

    /// <summary>
    /// Set (empty) when OpenBLAS is loaded for bench --compare: the GEMM shapes then time OpenBLAS alternately with
    /// SharpGPT and put its GFLOP/s here, by shape name.
    /// </summary>
    public Dictionary<string, double>? OpenBlasGflops { get; init; }

    /// <summary>When true, training and decoding also report where a step's time goes (<see cref="StepProfile"/>).</summary>
    public bool Profile { get; init; }

    public IEnumerable<BenchResult> Run(int batch, int time, int promptLength, int decodeTokens)
    {
        int c = _config.EmbeddingSize, f = _config.FeedForwardSize;
        int rows = Quick ? 256 : 1024;
        _peak = PeakFlops.Measure(Quick ? 0.2 : 1.0);
        _log($"peak: {_peak / 1e9:F0} GFLOP/s");
        yield return new BenchResult("peak fp32 (micro-kernel, operands in L1)", _peak / 1e9, "GFLOP/s", "all threads; the denominator of MFU");
        foreach ((string name, int n, int k) in new[] { ("qkv", 3 * c, c), ("attn.proj", c, c), ("mlp.fc", f, c), ("mlp.proj", c, f) })
        {
            yield return Gemm(name, rows, n, k);
        }

        using var model = new GptModel(_config);
        model.InitializeGpt2(new Rng(1));
        (BenchResult training, BenchResult trainingMemory) = Training(model, batch, time);
        yield return training;
        yield return trainingMemory;
        yield return Prefill(model, promptLength);
        foreach (BenchResult result in Decode(model, decodeTokens))
        {
            yield return result;
        }
        foreach (QuantizationKind kind in Enum.GetValues<QuantizationKind>())
        {
            model.Quantize(kind);
            yield return Prefill(model, promptLength, kind);
            foreach (BenchResult result in Decode(model, decodeTokens, kind))
            {
                yield return result;
            }
        }
        yield return new BenchResult("peak memory", PeakMemory.Bytes() / (1024.0 * 1024 * 1024), "GiB", "peak resident set of this process (VmHWM)");
    }

    /// <summary>Pause between the two libraries' GEMM timings, so that the other side's workers stop spinning.</summary>
    private const int SwitchPauseMilliseconds = 150;

    /// <summary>
    /// GFLOP/s of one forward GEMM shape. With <see cref="OpenBlasGflops"/> (bench --compare), each timed repetition of
    /// SharpGPT's GEMM is followed by one of OpenBLAS's on the same buffers, so the two medians come from the same
    /// minutes of this shared machine (measured one after the other, the ratio drifted by up to 15 % between runs).
    /// </summary>
    private BenchResult Gemm(string name, int m, int n, int k)
    {
        using var a = new NativeBuffer((long)m * k);
        using var b = new NativeBuffer((long)n * k);
        using var c = new NativeBuffer((long)m * n);
        Fill(a.Span);
        Fill(b.Span);
        Action ours = () => Tensors.Kernels.Gemm.Gemm.Multiply(m, n, k, MatrixView.RowMajor(a.Pointer, k), MatrixView.Transposed(b.Pointer, k), c.Pointer, n, false);
        Action blas = () => OpenBlas.MultiplyTransposed(m, n, k, a.Pointer, b.Pointer, c.Pointer);
        const double secondsPerSample = 0.2;
        Time(ours, secondsPerSample); // warm-up: JIT tiers, first touch of buffers, OpenBLAS's thread start
        if (OpenBlasGflops != null)
        {
            Time(blas, secondsPerSample);
        }
        var oursSeconds = new List<double>();
        var blasSeconds = new List<double>();
        for (int r = 0; r < _repeats; r++)
        {
            oursSeconds.Add(Time(ours, secondsPerSample));
            if (OpenBlasGflops != null)
            {
                // Both libraries' idle workers spin for a while after a call (OpenBLAS up to 2^28 cycles by default):
                // let them go to sleep so that neither side is timed against the other's spinning threads.
                Thread.Sleep(SwitchPauseMilliseconds);
                blasSeconds.Add(Time(blas, secondsPerSample));
                Thread.Sleep(SwitchPauseMilliseconds);
            }
        }
        double flops = 2.0 * m * n * k;
        double gflops = flops / MedianOf(oursSeconds) / 1e9;
        _log($"gemm {name} {m}x{n}x{k}: {gflops:F1} GFLOP/s");
        if (OpenBlasGflops != null)
        {
            OpenBlasGflops[name] = flops / MedianOf(blasSeconds) / 1e9;
            _log($"openblas {name}: {OpenBlasGflops[name]:F1} GFLOP/s (alternated with SharpGPT's)");
        }
        return new BenchResult($"gemm {name} ({m}x{n}x{k})", gflops, "GFLOP/s", "x·Wᵀ as in the forward pass");
    }

    /// <summary>Training speed, and the peak resident memory of the training phase against what it must hold.</summary>
    private (BenchResult Speed, BenchResult Memory) Training(GptModel model, int batch, int time)
    {
        bool phasePeak = PeakMemory.TryReset();
        using var graph = ComputeBackends.Default.CreateTrainingGraph(model, batch, time);
        using var m = new NativeBuffer(model.Layout.TotalFloats);
        using var v = new NativeBuffer(model.Layout.TotalFloats);
        Rng rng = new(2);
        int[] tokens = Enumerable.Range(0, batch * time).Select(_ => rng.NextInt(_config.VocabSize)).ToArray();
        int[] targets = Enumerable.Range(0, batch * time).Select(_ => rng.NextInt(_config.VocabSize)).ToArray();
        int step = 0;
        double seconds = Median(() =>
        {
            graph.ZeroGradients();
            graph.ForwardBackward(tokens, targets, batch, time);
            AdamW.Update(model.Parameters.Pointer, graph.Gradients.Pointer, m.Pointer, v.Pointer, model.Layout.TotalFloats,
                new AdamWStep(1e-5f, 0.9f, 0.95f, 1e-8f, 0.1f, ++step));
        });
        if (Profile)
        {
            _log($"training step profile (mean of {_repeats} steps):");
            var profile = new StepProfile();
            graph.Profile = profile;
            for (int i = 0; i < _repeats; i++)
            {
                graph.ZeroGradients();
                graph.ForwardBackward(tokens, targets, batch, time);
                profile.Start();
                AdamW.Update(model.Parameters.Pointer, graph.Gradients.Pointer, m.Pointer, v.Pointer, model.Layout.TotalFloats,
                    new AdamWStep(1e-5f, 0.9f, 0.95f, 1e-8f, 0.1f, ++step));
                profile.Lap(StepPhase.Optimizer);
            }
            graph.Profile = null;
            LogProfile(profile, _repeats);
        }
        double tokensPerSecond = batch * time / seconds;
        double flops = 6.0 * model.Layout.ParameterCount * batch * time + 12.0 * _config.LayerCount * batch * time * time * _config.EmbeddingSize / 2;
        _log($"training B={batch} T={time}: {tokensPerSecond:F0} tokens/s ({seconds * 1000:F0} ms/step)");
        // What training must hold: fp32 parameters, gradients and both Adam moments, plus the graph's activations.
        double peak = PeakMemory.Bytes();
        double required = 4.0 * model.Layout.TotalFloats * sizeof(float) + graph.ActivationBytes;
        const double GiB = 1024.0 * 1024 * 1024;
        var speed = new BenchResult($"training (B={batch}, T={time}, fwd+bwd+AdamW)", tokensPerSecond, "tokens/s",
            $"{seconds * 1000:F0} ms/step, {flops / seconds / 1e9:F0} GFLOP/s model FLOPs (6N per token + causal attention), MFU {flops / seconds / _peak:P0}");
        var memory = new BenchResult($"training peak memory (B={batch}, T={time})", peak / GiB, "GiB",
            $"{peak / required:F2}× of params + grads + Adam moments + activations ({required / GiB:F2} GiB computed); " +
            (phasePeak ? "resident-set peak of the training phase, runtime included" : "peak of the whole process so far"));
        return (speed, memory);
    }

    /// <summary>Prompt rows through the packed GEMM (with quantized weights dequantized as they are packed).</summary>
    private BenchResult Prefill(GptModel model, int promptLength, QuantizationKind? kind = null)
    {
        using var session = ComputeBackends.Default.CreateInferenceSession(model, slots: 1, maxTokensPerStep: promptLength, maxContext: Math.Min(_config.ContextLength, promptLength + 8));
        int[] prompt = Enumerable.Range(0, promptLength).Select(i => (i * 7919) % _config.VocabSize).ToArray();
        double seconds = Median(() =>
        {
            session.Reset(0);
            session.Step([new SequenceChunk(0, prompt, LogitsRequest.Last)]);
        });
        double tokensPerSecond = promptLength / seconds;
        if (Profile && kind == null)
        {
            _log($"prefill step profile (mean of {_repeats} prompts):");
            var profile = new StepProfile();
            session.Profile = profile;
            for (int i = 0; i < _repeats; i++)
            {
                session.Reset(0);
                session.Step([new SequenceChunk(0, prompt, LogitsRequest.Last)]);
            }
            session.Profile = null;
            LogProfile(profile, _repeats);
        }
        // Only the fp32 result is named "prefill (…)": that is the one compared with PyTorch.
        string weights = kind is { } k ? $", {k.ToString().ToLowerInvariant()} weights" : "";
        _log($"prefill{weights} {promptLength} tokens: {tokensPerSecond:F0} tokens/s");
        return new BenchResult($"prefill{weights} ({promptLength}-token prompt)", tokensPerSecond, "tokens/s", $"{seconds * 1000:F0} ms, logits of the last position");
    }

    /// <summary>
    /// Single-stream decoding speed, and the weight bytes it streams per second as a fraction of a plain DRAM read
    /// (<see cref="ReadBandwidthProbe"/>) read just before and just after each decode run, so that each ratio sees the same machine.
    /// </summary>
    private BenchResult[] Decode(GptModel model, int tokens, QuantizationKind? kind = null)
    {
        int context = Math.Min(_config.ContextLength, tokens + 32);
        using var session = ComputeBackends.Default.CreateInferenceSession(model, slots: 1, maxTokensPerStep: 16, maxContext: context);
        int[] prompt = Enumerable.Range(0, 16).Select(i => (i * 104729) % _config.VocabSize).ToArray();
        int[] next = new int[1];
        double DecodeSeconds()
        {
            session.Reset(0);
            session.Step([new SequenceChunk(0, prompt, LogitsRequest.Last)]);
            var timer = Stopwatch.StartNew();
            for (int i = 0; i < tokens; i++)
            {
                next[0] = Sampling(session.Logits(0));
                session.Step([new SequenceChunk(0, next, LogitsRequest.Last, Decoding: true)]);
            }
            return timer.Elapsed.TotalSeconds;
        }
        double bytes = StreamedBytesPerToken(model);
        using var probe = new ReadBandwidthProbe((long)bytes);
        DecodeSeconds(); // warm-up: JIT tiers, first touch of the KV cache
        probe.MeasureGigabytesPerSecond();
        var seconds = new List<double>();
        var reads = new List<double>();
        var fractions = new List<double>();
        // Each decode run is bracketed by a read before and one after it, and compared with their mean: this
        // machine's bandwidth drifts within seconds, and one read taken only before the run missed drops that
        // began during it (the same build read 59–95 % of a preceding read in consecutive runs).
        double readBefore = probe.MeasureGigabytesPerSecond();
        for (int r = 0; r < _decodeRuns; r++)
        {
            double s = DecodeSeconds();
            double readAfter = probe.MeasureGigabytesPerSecond();
            double read = (readBefore + readAfter) / 2;
            seconds.Add(s);
            reads.Add(read);
            fractions.Add(bytes * tokens / s / 1e9 / read);
            readBefore = readAfter;
        }
        double tokensPerSecond = tokens / MedianOf(seconds);
        double readGigabytes = MedianOf(reads), fraction = MedianOf(fractions);
        string name = kind?.ToString().ToLowerInvariant() ?? "fp32";
        // Dispatch overhead: worker-pool jobs per decoded token times the cost of one empty job.
        long before = WorkerPool.Shared.Dispatches;
        session.Step([new SequenceChunk(0, next, LogitsRequest.Last, Decoding: true)]);
        long perToken = WorkerPool.Shared.Dispatches - before;
        if (Profile)
        {
            _log($"decode {name} step profile (mean of {tokens} tokens):");
            var profile = new StepProfile();
            session.Profile = profile;
            session.Reset(0);
            session.Step([new SequenceChunk(0, prompt, LogitsRequest.Last)]);
            profile.Clear();
            for (int i = 0; i < tokens; i++)
            {
                session.Step([new SequenceChunk(0, next, LogitsRequest.Last, Decoding: true)]);
            }
            session.Profile = null;
            LogProfile(profile, tokens);
        }
        double overhead = perToken * DispatchSeconds();
        _log($"decode {name}: {tokensPerSecond:F1} tokens/s, {perToken} dispatches/token ≈ {overhead * 1e3:F2} ms ({100 * overhead * tokensPerSecond:F1}% of a step); " +
            $"weights at {100 * fraction:F0}% of a plain read ({readGigabytes:F1} GB/s)");
        return
        [
            new BenchResult($"decode (1 stream, {name} weights, KV cache)", tokensPerSecond, "tokens/s",
                $"{1000 / tokensPerSecond:F1} ms/token, ≈{bytes * tokensPerSecond / 1e9:F0} GB/s of weights streamed, " +
                $"dispatch overhead ≈{100 * overhead * tokensPerSecond:F1}% ({perToken} jobs/token)"),
            new BenchResult($"decode {name}: weight stream / plain read", 100 * fraction, "%",
                $"median of {_decodeRuns} decode runs, each against the mean of a read just before and just after it; a plain {WorkerPool.Shared.ThreadCount}-thread read of {probe.Bytes / 1e6:F0} MB (DRAM) ran at {readGigabytes:F1} GB/s" +
                // Weights smaller than the probe's floor may stay in the L3 between tokens: then decoding can beat DRAM.
                (bytes < ReadBandwidthProbe.MinimumBytes / 2 ? $"; {bytes / 1e6:F0} MB of weights can stay in the caches, so above 100 % is possible" : "")),
        ];
    }

    /// <summary>
    /// Bytes one decoded token reads from weights: every matrix and vector once (the quantized ones in their
    /// quantized form), except the position table, of which it reads one row.
    /// </summary>
    private static double StreamedBytesPerToken(GptModel model)
    {
        long positionTable = (long)model.Config.ContextLength * model.Config.EmbeddingSize;
        double fp32 = (model.Layout.ParameterCount - positionTable) * (double)sizeof(float);
        if (model.Quantized is not { } quantized)
        {
            return fp32;
        }
        // The quantized matrices replace their fp32 originals (the head replaces the token table, of which the
        // embedding reads one row); biases and LayerNorm parameters stay fp32.
        return quantized.ByteLength + fp32 - quantized.Matrices.Sum(m => (double)m.Rows * m.Columns * sizeof(float));
    }

    private void LogProfile(StepProfile profile, int steps)
    {
        foreach (StepPhase phase in Enum.GetValues<StepPhase>().Where(p => profile[p] > TimeSpan.Zero))
        {
            _log($"  {phase,-18} {profile[phase].TotalMilliseconds / steps,8:F2} ms  {100 * profile[phase] / profile.Total,5:F1}%");
        }
        _log($"  {"total",-18} {profile.Total.TotalMilliseconds / steps,8:F2} ms");
    }

    /// <summary>Seconds one worker-pool job of empty tasks (one per thread) takes from publish to join.</summary>
    private double DispatchSeconds()
    {
        const int jobs = 20_000;
        WorkerPool pool = WorkerPool.Shared;
        int tasks = Math.Max(2, pool.ThreadCount);
        for (int i = 0; i < 1000; i++)
        {
            pool.Run(tasks, &EmptyTask, null);
        }
        var timer = Stopwatch.StartNew();
        for (int i = 0; i < jobs; i++)
        {
            pool.Run(tasks, &EmptyTask, null);
        }
        return timer.Elapsed.TotalSeconds / jobs;
    }

    private static void EmptyTask(void* args, int task)
    {
    }

    private static int Sampling(ReadOnlySpan<float> logits) => Inference.Sampling.TokenSampler.ArgMax(logits);

    private double Median(Action action, double minimumSeconds = 0) => Median(() => Time(action, minimumSeconds));

    /// <summary>Seconds per call of <paramref name="action"/>, repeated for at least <paramref name="minimumSeconds"/>.</summary>
    private static double Time(Action action, double minimumSeconds)
    {
        var timer = Stopwatch.StartNew();
        int iterations = 0;
        do
        {
            action();
            iterations++;
        }
        while (timer.Elapsed.TotalSeconds < minimumSeconds);
        return timer.Elapsed.TotalSeconds / iterations;
    }

    private static double MedianOf(List<double> samples) => samples.Order().ElementAt(samples.Count / 2);

    private double Median(Func<double> measure)
    {
        measure(); // warm-up: JIT tiers, first-touch of buffers
        double[] samples = Enumerable.Range(0, _repeats).Select(_ => measure()).Order().ToArray();
        return samples[samples.Length / 2];
    }

    private static void Fill(Span<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (i % 13 - 6) * 0.01f;
        }
    }
}
