using System.Diagnostics;
using SharpGpt.Model;
using SharpGpt.Model.Backends;
using SharpGpt.Model.Lora;
using SharpGpt.Model.Training;
using SharpGpt.Tensors.Memory;
using SharpGpt.Training.Checkpoints;
using SharpGpt.Training.Data;
using SharpGpt.Training.Distributed;
using SharpGpt.Training.Metrics;
using SharpGpt.Training.Optimization;

namespace SharpGpt.Training;

/// <summary>
/// The training loop with the GPT-3 recipe: gradient accumulation to the target batch (optionally ramped),
/// global-norm clipping, AdamW with decay on matrices, warm-up + cosine schedule; periodic validation,
/// metrics, plots and atomic checkpoints that resume bit-identically. Data-parallel over MPI ranks with ZeRO
/// stages 0–3 (one process is one rank). With a LoRA adapter attached it trains only the adapter.
/// </summary>
public sealed class Trainer : IDisposable
{
    private const string AdapterFile = "adapter.safetensors";
    private const string AdapterOptimizerFile = "adapter-optimizer.safetensors";

    private readonly GptModel _model;
    private readonly ITrainingData _data;
    private readonly TrainerOptions _options;
    private readonly LoraAdapter? _lora;
    private readonly ICommunicator _comm;
    private readonly ITrainingGraph _graph;
    private readonly ZeroEngine? _zero;
    private readonly AdamWOptimizer? _loraOptimizer;
    private readonly CheckpointDirectory _checkpoints;

    public Trainer(GptModel model, ITrainingData data, TrainerOptions options, LoraAdapter? lora = null, ICommunicator? communicator = null, int zeroStage = 0)
    {
        options.Validate();
        _model = model;
        _data = data;
        _options = options;
        _lora = lora;
        _comm = communicator ?? new SingleProcessCommunicator();
        if (lora != null)
        {
            if (_comm.Size > 1)
            {
                throw new SharpGptException("LoRA fine-tuning runs on one process.");
            }
            _graph = ComputeBackends.Default.CreateTrainingGraph(model, data.MicroBatchSize, data.MaxTime);
            _graph.AttachLora(lora);
            _loraOptimizer = new AdamWOptimizer(lora.Tensors, lora.TotalFloats, options.Adam);
        }
        else
        {
            _zero = new ZeroEngine(model, _comm, zeroStage, options.Adam);
            _graph = ComputeBackends.Default.CreateTrainingGraph(model, data.MicroBatchSize, data.MaxTime, _zero);
        }
        _checkpoints = new CheckpointDirectory(Path.Combine(options.OutputDirectory, "checkpoints"), options.KeepCheckpoints);
    }

    public CheckpointDirectory Checkpoints => _checkpoints;

    /// <summary>The ZeRO engine (absent for LoRA): its per-rank byte counts are what the memory test measures.</summary>
    public ZeroEngine? Zero => _zero;

    /// <summary>Bytes held for activations and scratch.</summary>
    public long ActivationBytes => _graph.ActivationBytes;

    private bool IsLeader => _comm.Rank == 0;

    /// <summary>
    /// Runs until <see cref="TrainerOptions.Steps"/>, early stopping or cancellation (Ctrl-C), which finishes the
    /// current step on every rank and writes a checkpoint. With <paramref name="resume"/>, continues from that checkpoint.
    /// </summary>
    public TrainingResult Run(CancellationToken cancellation = default, IProgress<TrainingProgress>? progress = null, string? resume = null)
    {
        TrainingState? state = resume != null ? Restore(resume) : null;
        int step = state?.Step ?? 0;
        long tokensSeen = state?.TokensSeen ?? 0;
        double bestValidation = state?.BestValidationLoss ?? double.PositiveInfinity;
        int bestStep = state?.BestStep ?? -1;
        double elapsedBefore = state?.ElapsedSeconds ?? 0;
        double lastLoss = state?.LastLoss ?? double.NaN;
        int evaluationsWithoutImprovement = 0;
        var losses = new List<double>();
        string? lastCheckpoint = resume;
        bool interrupted = false, stoppedEarly = false;
        LearningRateSchedule schedule = _options.Schedule;
        var clock = Stopwatch.StartNew();
        long tokensPerMicroBatch = (long)_data.MicroBatchSize * _data.MaxTime * _comm.Size;
        using MetricsLog? metrics = IsLeader ? new MetricsLog(_options.OutputDirectory, state?.Step) : null;

        while (step < _options.Steps)
        {
            // Every rank stops at the same step: a stop requested on any rank (Ctrl-C) stops all.
            if (_comm.AllReduceSum(cancellation.IsCancellationRequested ? 1 : 0) > 0)
            {
                interrupted = true;
                break;
            }
            var stepClock = Stopwatch.StartNew();
            TimeSpan collectiveBefore = _comm.CollectiveTime;
            int microBatches = _options.Ramp.MicroBatches(tokensSeen, _options.AccumulationSteps, tokensPerMicroBatch);
            MicroBatch[] batches = Enumerable.Range(0, microBatches).Select(_ => _data.Next()).ToArray();
            double counted = _comm.AllReduceSum(batches.Sum(b => b.CountedTargets));
            ZeroGradients();
            double lossSum = 0;
            foreach (MicroBatch batch in batches)
            {
                // Every counted token of the global step weighs 1/(all counted tokens), so accumulation and data
                // parallelism both equal one big batch.
                float loss = _graph.ForwardBackward(batch.Inputs, batch.Targets, batch.Batch, batch.Time, counted == 0 ? 0f : (float)(1.0 / counted));
                lossSum += (double)loss * _graph.CountedTargets;
            }
            double stepLoss = counted == 0 ? 0 : _comm.AllReduceSum(lossSum) / counted;
            double norm = _zero?.FinishGradients() ?? AdamWOptimizer.GlobalNorm(_graph.LoraGradients!);
            if (!double.IsFinite(stepLoss) || !double.IsFinite(norm))
            {
                throw new TrainingDivergedException(
                    $"step {step + 1}: the {(double.IsFinite(stepLoss) ? "gradient norm" : "loss")} is {(double.IsFinite(stepLoss) ? norm : stepLoss)}; " +
                    $"training stopped without applying it. The last good checkpoint is {_checkpoints.Latest ?? "(none yet)"}.");
            }
            double learningRate = schedule.At(step);
            if (_zero != null)
            {
                _zero.OptimizerStep(learningRate, norm);
            }
            else
            {
                _loraOptimizer!.Step(_lora!.Parameters, _graph.LoraGradients!, learningRate, norm);
            }
            step++;
            long stepTokens = batches.Sum(b => (long)b.Batch * b.Time) * _comm.Size;
            tokensSeen += stepTokens;
            losses.Add(stepLoss);
            lastLoss = stepLoss;
            double tokensPerSecond = stepTokens / stepClock.Elapsed.TotalSeconds;
            metrics?.Write(new MetricsRecord
            {
                Step = step, Loss = stepLoss, LearningRate = learningRate, GradientNorm = norm, BatchTokens = stepTokens,
                Tokens = tokensSeen, TokensPerSecond = tokensPerSecond, ElapsedSeconds = elapsedBefore + clock.Elapsed.TotalSeconds,
                StepSeconds = stepClock.Elapsed.TotalSeconds,
                CommunicationSeconds = _comm.Size > 1 ? (_comm.CollectiveTime - collectiveBefore).TotalSeconds : null,
            });

            double? validation = null;
            bool isBest = false;
            bool evaluate = step == _options.Steps || (_options.EvalInterval > 0 && step % _options.EvalInterval == 0);
            if (evaluate && Evaluate() is double v)
            {
                validation = v;
                metrics?.Write(new MetricsRecord
                {
                    Step = step, Tokens = tokensSeen, ElapsedSeconds = elapsedBefore + clock.Elapsed.TotalSeconds,
                    ValidationLoss = v, ValidationPerplexity = Math.Exp(v),
                });
                if (v < bestValidation)
                {
                    bestValidation = v;
                    bestStep = step;
                    isBest = true;
                    evaluationsWithoutImprovement = 0;
                }
                else if (_options.EarlyStoppingPatience > 0 && ++evaluationsWithoutImprovement >= _options.EarlyStoppingPatience)
                {
                    stoppedEarly = true;
                }
                if (metrics != null)
                {
                    LossPlot.Save(Path.Combine(_options.OutputDirectory, "loss.png"), metrics.Records, _options.RunName);
                }
            }
            double elapsed = clock.Elapsed.TotalSeconds;
            double perStep = elapsed / Math.Max(1, losses.Count);
            if (IsLeader)
            {
                progress?.Report(new TrainingProgress(step, _options.Steps, stepLoss, learningRate, tokensPerSecond,
                    TimeSpan.FromSeconds(elapsedBefore + elapsed), TimeSpan.FromSeconds(perStep * (_options.Steps - step)), validation));
            }

            bool checkpointDue = step == _options.Steps || stoppedEarly || isBest || (_options.CheckpointInterval > 0 && step % _options.CheckpointInterval == 0);
            if (checkpointDue)
            {
                lastCheckpoint = SaveCheckpoint(step, tokensSeen, bestValidation, bestStep, elapsedBefore + clock.Elapsed.TotalSeconds, lastLoss, isBest);
            }
            if (stoppedEarly)
            {
                break;
            }
        }
        if (interrupted && (lastCheckpoint == null || !lastCheckpoint.EndsWith(CheckpointDirectory.NameOf(step), StringComparison.Ordinal)))
        {
            lastCheckpoint = SaveCheckpoint(step, tokensSeen, bestValidation, bestStep, elapsedBefore + clock.Elapsed.TotalSeconds, lastLoss, false);
        }
        if (metrics != null && metrics.Records.Count > 0)
        {
            LossPlot.Save(Path.Combine(_options.OutputDirectory, "loss.png"), metrics.Records, _options.RunName);
        }
        return new TrainingResult(step, losses, bestValidation, bestStep, interrupted, stoppedEarly, lastCheckpoint);
    }

    private void ZeroGradients()
    {
        _graph.ZeroGradients();
        _zero?.ZeroGradients();
    }

    /// <summary>Mean cross-entropy over the validation set, or null when there is none (every rank runs it in step).</summary>
    public double? Evaluate()
    {
        double sum = 0;
        long counted = 0;
        foreach (MicroBatch batch in _data.Validation())
        {
            float loss = _graph.Forward(batch.Inputs, batch.Targets, batch.Batch, batch.Time);
            sum += (double)loss * _graph.CountedTargets;
            counted += _graph.CountedTargets;
        }
        return counted == 0 ? null : sum / counted;
    }

    /// <summary>Every rank writes its part into one temporary folder, which rank 0 then commits atomically.</summary>
    private string SaveCheckpoint(int step, long tokensSeen, double bestValidation, int bestStep, double elapsed, double lastLoss, bool isBest)
    {
        var state = new TrainingState
        {
            Step = step,
            TokensSeen = tokensSeen,
            ElapsedSeconds = elapsed,
            Data = _data.SavePosition(),
            Config = TrainingState.ConfigNode(_model.Config),
            Options = TrainingState.ToNode(new { _options.RunName, _options.Steps, _options.Seed, Lora = _lora?.Settings, Ranks = _comm.Size, Stage = _zero?.Stage }),
            BestValidationLoss = bestValidation,
            BestStep = bestStep,
            OptimizerSteps = _zero?.StepCount ?? _loraOptimizer!.StepCount,
            LastLoss = lastLoss,
        };
        string temporary = _comm.Broadcast(IsLeader ? _checkpoints.Begin(step) : "", 0);
        try
        {
            if (_zero != null)
            {
                _zero.Save(temporary);
            }
            else
            {
                FlatBufferFile.Write(Path.Combine(temporary, AdapterFile), [("adapter", _lora!.Parameters)]);
                FlatBufferFile.Write(Path.Combine(temporary, AdapterOptimizerFile), [("m", _loraOptimizer!.M), ("v", _loraOptimizer.V)]);
            }
            if (IsLeader)
            {
                state.Save(temporary);
            }
        }
        catch
        {
            if (IsLeader)
            {
                CheckpointDirectory.Abandon(temporary);
            }
            throw;
        }
        _comm.Barrier();
        string final = IsLeader ? _checkpoints.Commit(step, temporary, isBest) : "";
        return _comm.Broadcast(final, 0);
    }

    private TrainingState Restore(string directory)
    {
        TrainingState state = TrainingState.Load(directory);
        GptConfig config = state.ModelConfig;
        if (ConfigJson.Serialize(config with { Name = _model.Config.Name, Description = _model.Config.Description }) != ConfigJson.Serialize(_model.Config))
        {
            throw new SharpGptException($"{directory}: the checkpoint is for a different model architecture.");
        }
        if (_zero != null)
        {
            _zero.Load(directory);
        }
        else
        {
            FlatBufferFile.Read(Path.Combine(directory, AdapterFile), "adapter", _lora!.Parameters);
            FlatBufferFile.Read(Path.Combine(directory, AdapterOptimizerFile), "m", _loraOptimizer!.M);
            FlatBufferFile.Read(Path.Combine(directory, AdapterOptimizerFile), "v", _loraOptimizer.V);
            _loraOptimizer.StepCount = state.OptimizerSteps;
        }
        _data.RestorePosition(state.Data);
        return state;
    }

    /// <summary>Loads the full weights of a checkpoint (any rank count or stage) into a model, for export.</summary>
    public static void LoadWeights(string checkpoint, GptModel model)
    {
        if (File.Exists(Path.Combine(checkpoint, ZeroEngine.ManifestFile)))
        {
            ZeroEngine.LoadParameters(checkpoint, model);
        }
        else
        {
            // Checkpoints written before ZeRO support: one flat "parameters" tensor.
            FlatBufferFile.Read(Path.Combine(checkpoint, "model.safetensors"), "parameters", model.Parameters);
        }
    }

    /// <summary>Loads a LoRA checkpoint's adapter weights.</summary>
    public static void LoadAdapter(string checkpoint, LoraAdapter adapter) =>
        FlatBufferFile.Read(Path.Combine(checkpoint, AdapterFile), "adapter", adapter.Parameters);

    public void Dispose()
    {
        _graph.Dispose();
        _zero?.Dispose();
        _loraOptimizer?.Dispose();
    }
}
