using System.Diagnostics;
using System.Runtime.Intrinsics;
using SharpGpt.Tensors.Memory;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Cli.Bench;

/// <summary>
/// What DRAM bandwidth allows, measured in the same run as decoding: every pool thread sums its share of a buffer
/// at least as large as the weights one decoded token streams and never smaller than <see cref="MinimumBytes"/>
/// (so that repeated passes cannot be served from the L3), with plain 512-bit loads. Decoding is memory-bound, so
/// its weight bytes per second over this figure is how close it runs to the machine's limit; taking both side by
/// side cancels most of this shared machine's drift.
/// </summary>
internal sealed unsafe class ReadBandwidthProbe : IDisposable
{
    /// <summary>Floats summed per loop step by one thread: four independent 16-lane accumulators.</summary>
    private const int StepFloats = 64;

    /// <summary>
    /// 256 MiB: several times the L3 a core can use here (32 MiB per Zen 5 CCD). A 78 MB buffer (q4 GPT-2) read
    /// back to back ran at 107 GB/s, well above DRAM, because part of it stayed in the L3.
    /// </summary>
    public const long MinimumBytes = 256L << 20;

    /// <summary>How long one measurement reads: a quarter of a second, about a third of a 64-token GPT-2 decode run.</summary>
    public const double SustainedSeconds = 0.25;

    private readonly NativeBuffer _buffer;

    public ReadBandwidthProbe(long bytes)
    {
        long floats = Math.Max(MinimumBytes, bytes) / sizeof(float) / StepFloats * StepFloats;
        _buffer = new NativeBuffer(floats);
        // First touch here, not in the timed pass (a fresh page costs microseconds).
        _buffer.Span.Fill(1f);
    }

    public long Bytes => _buffer.Length * sizeof(float);

    /// <summary>
    /// Sustained GB/s: read passes over the buffer by all pool threads for at least <see cref="SustainedSeconds"/>.
    /// A single pass (≈10 ms for GPT-2's weights) read 15–40 % lower than a sustained read in the same minute, and
    /// would flatter the ratio.
    /// </summary>
    public double MeasureGigabytesPerSecond()
    {
        var args = new ProbeArgs { Data = _buffer.Pointer, Steps = _buffer.Length / StepFloats, Tasks = WorkerPool.Shared.ThreadCount };
        long start = Stopwatch.GetTimestamp();
        int passes = 0;
        do
        {
            WorkerPool.Shared.Run(args.Tasks, &Task, &args);
            passes++;
        }
        while (Stopwatch.GetElapsedTime(start).TotalSeconds < SustainedSeconds);
        return (double)Bytes * passes / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9;
    }

    private struct ProbeArgs
    {
        public float* Data;
        public long Steps;
        public int Tasks;
        public float Sink;
    }

    private static void Task(void* argsPointer, int task)
    {
        ref ProbeArgs args = ref *(ProbeArgs*)argsPointer;
        long perTask = (args.Steps + args.Tasks - 1) / args.Tasks;
        long first = perTask * task, last = Math.Min(args.Steps, first + perTask);
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        for (float* p = args.Data + first * StepFloats, end = args.Data + last * StepFloats; p < end; p += StepFloats)
        {
            s0 += Vector512.Load(p);
            s1 += Vector512.Load(p + 16);
            s2 += Vector512.Load(p + 32);
            s3 += Vector512.Load(p + 48);
        }
        // A conditional store keeps the sum, and so every load, observable to the JIT.
        float sum = Vector512.Sum((s0 + s1) + (s2 + s3));
        if (sum == float.MaxValue)
        {
            args.Sink = sum;
        }
    }

    public void Dispose() => _buffer.Dispose();
}
