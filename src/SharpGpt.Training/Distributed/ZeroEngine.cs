using System.Numerics.Tensors;
using System.Text.Json;
using SharpGpt.Model;
using SharpGpt.Model.Checkpoints;
using SharpGpt.Model.Checkpoints.Safetensors;
using SharpGpt.Model.Training;
using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Memory;
using SharpGpt.Training.Checkpoints;
using SharpGpt.Training.Optimization;

namespace SharpGpt.Training.Distributed;

/// <summary>
/// Data-parallel AdamW with ZeRO (Rajbhandari et al. 2019) over the flat buffers:
/// stage 0 all-reduces gradients and every rank updates everything; stage 1 shards the Adam moments (each
/// rank updates its slice, then parameters are all-gathered); stage 2 also shards gradients (each unit's
/// gradients are reduce-scattered as soon as backward is done with it); stage 3 also shards parameters
/// (each unit is all-gathered just before forward or backward uses it). Clipping uses the true global norm.
/// One process is simply N = 1. It is the <see cref="IParameterStorage"/> of the training graph.
/// </summary>
public sealed unsafe class ZeroEngine : IParameterStorage, IDisposable
{
    public const string ManifestFile = "zero.json";

    private readonly GptModel _model;
    private readonly ICommunicator _comm;
    private readonly ShardLayout _shard;
    private readonly (long Global, long Local, long Length, bool Decay)[] _groups;
    private readonly NativeBuffer? _fullGradients;   // stages 0–1
    private readonly NativeBuffer? _gradientShard;   // stages 2–3
    private readonly NativeBuffer? _parameterShard;  // stage 3
    private readonly NativeBuffer _m, _v;            // stage 0: full; stages 1–3: shard
    // Working buffers of stages 2–3: one per unit kind (embeddings, a block, final LayerNorm), reused.
    private readonly NativeBuffer? _gradientWork, _parameterWork, _receive;
    private readonly long[] _workOffsets;

    public ZeroEngine(GptModel model, ICommunicator communicator, int stage, AdamWSettings settings)
    {
        if (stage is < 0 or > 3)
        {
            throw new SharpGptException($"ZeRO stage {stage} does not exist (0–3).");
        }
        _model = model;
        _comm = communicator;
        Stage = stage;
        Settings = settings;
        ParameterLayout layout = model.Layout;
        _shard = new ShardLayout(layout, communicator.Size, communicator.Rank);
        _groups = [.. (stage == 0 ? new ShardLayout(layout, 1, 0) : _shard).OptimizerGroups(settings.DecayAllTensors)];
        long optimizerLength = stage == 0 ? layout.TotalFloats : _shard.LocalLength;
        _m = new NativeBuffer(optimizerLength);
        _v = new NativeBuffer(optimizerLength);
        if (stage <= 1)
        {
            _fullGradients = new NativeBuffer(layout.TotalFloats);
        }
        else
        {
            _gradientShard = new NativeBuffer(_shard.LocalLength);
            // Unit kinds: 0 = embeddings, 1 = a block (every block has the same size), 2 = final LayerNorm.
            long embeddings = Length(0), block = Length(1), final = Length(layout.Units.Count - 1);
            _workOffsets = [0, embeddings, embeddings + block];
            _gradientWork = new NativeBuffer(embeddings + block + final);
            _receive = new NativeBuffer(_shard.Counts.Max(c => c.Max()));
            if (stage == 3)
            {
                _parameterShard = new NativeBuffer(_shard.LocalLength);
                foreach (ShardSegment segment in _shard.Segments)
                {
                    model.Parameters.Slice(segment.GlobalStart, (int)segment.Length).CopyTo(_parameterShard.Slice(segment.LocalStart, (int)segment.Length));
                }
                _parameterWork = new NativeBuffer(embeddings + block + final);
                model.ReleaseParameters();
            }
        }
        _workOffsets ??= [];
    }

    public int Stage { get; }

    public AdamWSettings Settings { get; }

    public ICommunicator Communicator => _comm;

    public ShardLayout Shard => _shard;

    /// <summary>Optimizer steps taken (for bias correction).</summary>
    public int StepCount { get; set; }

    /// <summary>Persistent bytes per rank (what the ZeRO formulas count), by kind.</summary>
    public long ParameterBytes => (_parameterShard?.ByteLength ?? _model.Layout.TotalFloats * sizeof(float));

    public long GradientBytes => _fullGradients?.ByteLength ?? _gradientShard!.ByteLength;

    public long OptimizerBytes => _m.ByteLength + _v.ByteLength;

    /// <summary>Reused per-unit working buffers of stages 2–3 (not model state; one unit of each kind).</summary>
    public long WorkingBytes => (_gradientWork?.ByteLength ?? 0) + (_parameterWork?.ByteLength ?? 0) + (_receive?.ByteLength ?? 0);

    private long Length(int unit) => _model.Layout.Units[unit].End - _model.Layout.Units[unit].Start;

    private long WorkOffset(int unit) => unit == 0 ? _workOffsets[0] : unit == _model.Layout.Units.Count - 1 ? _workOffsets[2] : _workOffsets[1];

    // ---- IParameterStorage ----

    public float* AcquireParameters(int unit)
    {
        if (Stage < 3)
        {
            return _model.Parameters.Pointer + _model.Layout.Units[unit].Start;
        }
        // Gather the unit: every rank contributes its slice, every rank receives the whole unit.
        float* work = _parameterWork!.Pointer + WorkOffset(unit);
        ShardSegment segment = _shard.Segments[unit];
        Buffer.MemoryCopy(_parameterShard!.Pointer + segment.LocalStart, work + _shard.Offsets[unit][_comm.Rank], segment.Length * 4, segment.Length * 4);
        _comm.AllGather(work + _shard.Offsets[unit][_comm.Rank], work, _shard.Counts[unit]);
        return work;
    }

    public void ReleaseParameters(int unit)
    {
        // Stage 3's working buffer is simply reused by the next unit of the same kind.
    }

    public float* AcquireGradients(int unit) =>
        Stage <= 1 ? _fullGradients!.Pointer + _model.Layout.Units[unit].Start : _gradientWork!.Pointer + WorkOffset(unit);

    public void GradientsReady(int unit)
    {
        if (Stage <= 1)
        {
            return;
        }
        // Reduce-scatter this unit's gradients into the persistent shard, then clear the working buffer.
        float* work = _gradientWork!.Pointer + WorkOffset(unit);
        ShardSegment segment = _shard.Segments[unit];
        _comm.ReduceScatterSum(work, _receive!.Pointer, _shard.Counts[unit]);
        var shard = new Span<float>(_gradientShard!.Pointer + segment.LocalStart, (int)segment.Length);
        TensorPrimitives.Add(shard, new ReadOnlySpan<float>(_receive.Pointer, (int)segment.Length), shard);
        new Span<float>(work, (int)Length(unit)).Clear();
    }

    // ---- the step ----

    public void ZeroGradients()
    {
        _fullGradients?.Clear();
        _gradientShard?.Clear();
        _gradientWork?.Clear();
    }

    /// <summary>Combines the ranks' gradients (stages 0–1) and returns the global L2 norm.</summary>
    public double FinishGradients()
    {
        if (Stage <= 1)
        {
            _comm.AllReduceSum(_fullGradients!.Pointer, _fullGradients.Length);
            return Math.Sqrt(Norms.SumOfSquares(_fullGradients.Pointer, _fullGradients.Length));
        }
        return Math.Sqrt(_comm.AllReduceSum(Norms.SumOfSquares(_gradientShard!.Pointer, _gradientShard.Length)));
    }

    /// <summary>One AdamW step on what this rank owns, clipped by the global norm; then parameters are all-gathered (stages 1–2).</summary>
    public void OptimizerStep(double learningRate, double globalNorm)
    {
        double clip = Settings.GradientClip > 0 && globalNorm > Settings.GradientClip ? Settings.GradientClip / globalNorm : 1.0;
        StepCount++;
        foreach ((long global, long local, long length, bool decay) in _groups)
        {
            float* parameters = Stage == 3 ? _parameterShard!.Pointer + local : _model.Parameters.Pointer + global;
            float* gradients = Stage <= 1 ? _fullGradients!.Pointer + global : _gradientShard!.Pointer + local;
            long moment = Stage == 0 ? global : local;
            AdamW.Update(parameters, gradients, _m.Pointer + moment, _v.Pointer + moment, length,
                new AdamWStep((float)learningRate, (float)Settings.Beta1, (float)Settings.Beta2, (float)Settings.Epsilon,
                    decay ? (float)Settings.WeightDecay : 0f, StepCount, (float)clip));
        }
        if (Stage is 1 or 2)
        {
            for (int unit = 0; unit < _model.Layout.Units.Count; unit++)
            {
                float* start = _model.Parameters.Pointer + _model.Layout.Units[unit].Start;
                _comm.AllGather(start + _shard.Offsets[unit][_comm.Rank], start, _shard.Counts[unit]);
            }
        }
    }

    /// <summary>Copies the full parameters into <paramref name="destination"/> (gathering units in stage 3; collective).</summary>
    public void GatherParameters(NativeBuffer destination)
    {
        for (int unit = 0; unit < _model.Layout.Units.Count; unit++)
        {
            float* source = AcquireParameters(unit);
            (long start, long end) = _model.Layout.Units[unit];
            Buffer.MemoryCopy(source, destination.Pointer + start, (end - start) * 4, (end - start) * 4);
        }
    }

    // ---- sharded checkpoints ----

    private sealed record Manifest(int Ranks, int Stage, int Steps, bool FullParameters, List<List<ShardSegment>> Segments);

    private static string ShardFile(int rank, int ranks) => $"shard-{rank:D5}-of-{ranks:D5}.safetensors";

    /// <summary>
    /// Writes this rank's part of a checkpoint into <paramref name="directory"/> (all ranks call it): its Adam
    /// moments (and parameter slice in stage 3) in shard-RRRRR-of-NNNNN.safetensors; rank 0 also writes the full
    /// parameters when it has them, and zero.json describing every rank's slices.
    /// </summary>
    public void Save(string directory)
    {
        var tensors = new List<(string, NativeBuffer)> { ("m", _m), ("v", _v) };
        if (_parameterShard != null)
        {
            tensors.Add(("parameters", _parameterShard));
        }
        if (Stage > 0 || _comm.Rank == 0)
        {
            // Stage 0 moments are the same full copy on every rank: rank 0's is enough.
            FlatBufferFile.Write(Path.Combine(directory, ShardFile(_comm.Rank, _comm.Size)), tensors);
        }
        if (_comm.Rank == 0)
        {
            if (Stage < 3)
            {
                FlatBufferFile.Write(Path.Combine(directory, "model.safetensors"), [("parameters", _model.Parameters)]);
            }
            var segments = Enumerable.Range(0, _comm.Size)
                .Select(r => Stage == 0 && r == 0 ? new ShardLayout(_model.Layout, 1, 0).Segments.ToList() : new ShardLayout(_model.Layout, _comm.Size, r).Segments.ToList())
                .ToList();
            var manifest = new Manifest(_comm.Size, Stage, StepCount, Stage < 3, segments);
            AtomicFile.WriteAllText(Path.Combine(directory, ManifestFile), JsonSerializer.Serialize(manifest));
        }
    }

    /// <summary>
    /// Restores from a checkpoint written with any number of ranks and any stage (re-sharding): each rank reads
    /// the pieces of the old shards that overlap its new slices.
    /// </summary>
    public void Load(string directory)
    {
        string manifestPath = Path.Combine(directory, ManifestFile);
        if (!File.Exists(manifestPath))
        {
            throw new CheckpointException($"{directory}: no {ManifestFile}; not a SharpGPT training checkpoint.");
        }
        Manifest manifest = JsonSerializer.Deserialize<Manifest>(File.ReadAllText(manifestPath))
            ?? throw new CheckpointException($"{manifestPath}: empty.");
        StepCount = manifest.Steps;
        var files = new Dictionary<int, SafetensorsFile>();
        try
        {
            SafetensorsFile Open(int rank) => files.TryGetValue(rank, out SafetensorsFile? file) ? file
                : files[rank] = SafetensorsFile.Open(Path.Combine(directory, ShardFile(rank, manifest.Ranks)));

            // Where a global range lives in the old shards: copy every overlapping piece of tensor `name`.
            void Fill(string name, long globalStart, Span<float> destination, bool stageZeroFull)
            {
                long globalEnd = globalStart + destination.Length;
                for (int rank = 0; rank < manifest.Ranks; rank++)
                {
                    if (stageZeroFull && rank > 0)
                    {
                        break; // stage 0: rank 0's moments cover everything
                    }
                    foreach (ShardSegment old in manifest.Segments[rank])
                    {
                        long start = Math.Max(globalStart, old.GlobalStart), end = Math.Min(globalEnd, old.GlobalStart + old.Length);
                        if (start < end)
                        {
                            SafetensorsFile file = Open(rank);
                            file.ReadFloat32(file.Entry(name), old.LocalStart + (start - old.GlobalStart), destination.Slice((int)(start - globalStart), (int)(end - start)));
                        }
                    }
                }
            }

            bool oldStageZero = manifest.Stage == 0;
            IEnumerable<ShardSegment> mine = Stage == 0 ? new ShardLayout(_model.Layout, 1, 0).Segments : _shard.Segments;
            foreach (ShardSegment segment in mine)
            {
                Fill("m", segment.GlobalStart, _m.Slice(segment.LocalStart, (int)segment.Length), oldStageZero);
                Fill("v", segment.GlobalStart, _v.Slice(segment.LocalStart, (int)segment.Length), oldStageZero);
            }
            // Parameters: the full copy when the checkpoint has one, otherwise the old stage-3 shards.
            if (manifest.FullParameters)
            {
                using SafetensorsFile full = SafetensorsFile.Open(Path.Combine(directory, "model.safetensors"));
                SafetensorsEntry entry = full.Entry("parameters");
                if (entry.ElementCount != _model.Layout.TotalFloats)
                {
                    throw new CheckpointException($"{directory}: the checkpoint's parameters do not match this model.");
                }
                if (Stage < 3)
                {
                    full.ReadFloat32(entry, _model.Parameters.Span);
                }
                else
                {
                    foreach (ShardSegment segment in _shard.Segments)
                    {
                        full.ReadFloat32(entry, segment.GlobalStart, _parameterShard!.Slice(segment.LocalStart, (int)segment.Length));
                    }
                }
            }
            else
            {
                IEnumerable<ShardSegment> targets = Stage < 3 ? new ShardLayout(_model.Layout, 1, 0).Segments : _shard.Segments;
                foreach (ShardSegment segment in targets)
                {
                    Span<float> destination = Stage < 3
                        ? _model.Parameters.Slice(segment.GlobalStart, (int)segment.Length)
                        : _parameterShard!.Slice(segment.LocalStart, (int)segment.Length);
                    Fill("parameters", segment.GlobalStart, destination, false);
                }
            }
        }
        finally
        {
            foreach (SafetensorsFile file in files.Values)
            {
                file.Dispose();
            }
        }
    }

    /// <summary>Reads the full parameters of a checkpoint written with any stage and rank count (for export).</summary>
    public static void LoadParameters(string directory, GptModel model)
    {
        using var engine = new ZeroEngine(model, new SingleProcessCommunicator(), 0, new AdamWSettings());
        engine.Load(directory);
    }

    public void Dispose()
    {
        _m.Dispose();
        _v.Dispose();
        _fullGradients?.Dispose();
        _gradientShard?.Dispose();
        _parameterShard?.Dispose();
        _gradientWork?.Dispose();
        _parameterWork?.Dispose();
        _receive?.Dispose();
    }
}
