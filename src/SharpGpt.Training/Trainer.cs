using System.Diagnostics;
using System.Text.Json.Nodes;
using SharpGpt.Model;
using SharpGpt.Model.Lora;
using SharpGpt.Model.Training;
using SharpGpt.Tensors.Memory;
using SharpGpt.Training.Checkpoints;
using SharpGpt.Training.Data;
using SharpGpt.Training.Metrics;
using SharpGpt.Training.Optimization;

namespace SharpGpt.Training;

/// <summary>
/// The training loop with the GPT-3 recipe: gradient accumulation to the target batch (optionally ramped),
/// global-norm clipping, AdamW with decay on matrices, warm-up + cosine schedule; periodic validation,
/// metrics, plots and atomic checkpoints that resume bit-identically. With a LoRA adapter attached it
/// trains only the adapter.
/// </summary>
public sealed class Trainer : IDisposable
{
    private const string WeightsFile = "model.safetensors";
    private const string OptimizerFile = "optimizer.safetensors";

    private readonly GptModel _model;
    private readonly ITrainingData _data;
    private readonly TrainerOptions _options;
    private readonly LoraAdapter? _lora;
    private readonly TrainingGraph _graph;
    private readonly AdamWOptimizer _optimizer;
    private readonly CheckpointDirectory _checkpoints;

    public Trainer(GptModel model, ITrainingData data, TrainerOptions options, LoraAdapter? lora = null)
    {
        options.Validate();
        _model = model;
        _data = data;
        _options = options;
        _lora = lora;
        _graph = new TrainingGraph(model, data.MicroBatchSize, data.MaxTime);
        if (lora != null)
        {
            _graph.AttachLora(lora);
            _optimizer = new AdamWOptimizer(lora.Tensors, lora.TotalFloats, options.Adam);
        }
        else
        {
            _optimizer = new AdamWOptimizer(model.Layout.Tensors, model.Layout.TotalFloats, options.Adam);
        }
        _checkpoints = new CheckpointDirectory(Path.Combine(options.OutputDirectory, "checkpoints"), options.KeepCheckpoints);
    }

    public CheckpointDirectory Checkpoints => _checkpoints;

    /// <summary>Bytes held for activations and scratch.</summary>
    public long ActivationBytes => _graph.ActivationBytes;

    /// <summary>The buffer being trained: the model's parameters, or the adapter's.</summary>
    private NativeBuffer Trainable => _lora?.Parameters ?? _model.Parameters;

    private NativeBuffer TrainableGradients => _lora != null ? _graph.LoraGradients! : _graph.Gradients;

    /// <summary>
    /// Runs until <see cref="TrainerOptions.Steps"/>, early stopping or cancellation (Ctrl-C), which finishes
    /// the current step and writes a checkpoint. With <paramref name="resume"/>, continues from that checkpoint.
    /// </summary>
    public TrainingResult Run(CancellationToken cancellation = default, IProgress<TrainingProgress>? progress = null, string? resume = null)
    {
        TrainingState? state = resume != null ? Restore(resume) : null;
        int step = state?.Step ?? 0;
        long tokensSeen = state?.TokensSeen ?? 0;
        double bestValidation = state?.BestValidationLoss ?? double.PositiveInfinity;
        int bestStep = state?.BestStep ?? -1;
        double elapsedBefore = state?.ElapsedSeconds ?? 0;
        int evaluationsWithoutImprovement = 0;
        var losses = new List<double>();
        string? lastCheckpoint = resume;
        bool interrupted = false, stoppedEarly = false;
        LearningRateSchedule schedule = _options.Schedule;
        var clock = Stopwatch.StartNew();
        long tokensPerMicroBatch = (long)_data.MicroBatchSize * _data.MaxTime;
        using var metrics = new MetricsLog(_options.OutputDirectory, state?.Step);
        double lastLoss = state?.LastLoss ?? double.NaN;

        while (step < _options.Steps)
        {
            if (cancellation.IsCancellationRequested)
            {
                interrupted = true;
                break;
            }
            var stepClock = Stopwatch.StartNew();
            int microBatches = _options.Ramp.MicroBatches(tokensSeen, _options.AccumulationSteps, tokensPerMicroBatch);
            MicroBatch[] batches = Enumerable.Range(0, microBatches).Select(_ => _data.Next()).ToArray();
            int counted = batches.Sum(b => b.CountedTargets);
            _graph.ZeroGradients();
            double lossSum = 0;
            foreach (MicroBatch batch in batches)
            {
                float loss = _graph.Forward(batch.Inputs, batch.Targets, batch.Batch, batch.Time);
                lossSum += (double)loss * _graph.CountedTargets;
                // Every counted token weighs 1/(tokens in the whole step), so accumulation equals one big batch.
                _graph.Backward(counted == 0 ? 0f : 1f / counted);
            }
            double stepLoss = counted == 0 ? 0 : lossSum / counted;
            double norm = AdamWOptimizer.GlobalNorm(TrainableGradients);
            if (!double.IsFinite(stepLoss) || !double.IsFinite(norm))
            {
                throw new TrainingDivergedException(
                    $"step {step + 1}: the {(double.IsFinite(stepLoss) ? "gradient norm" : "loss")} is {(double.IsFinite(stepLoss) ? norm : stepLoss)}; " +
                    $"training stopped without applying it. The last good checkpoint is {_checkpoints.Latest ?? "(none yet)"}.");
            }
            double learningRate = schedule.At(step);
            _optimizer.Step(Trainable, TrainableGradients, learningRate, norm);
            step++;
            long stepTokens = batches.Sum(b => (long)b.Batch * b.Time);
            tokensSeen += stepTokens;
            losses.Add(stepLoss);
            lastLoss = stepLoss;
            double tokensPerSecond = stepTokens / stepClock.Elapsed.TotalSeconds;
            metrics.Write(new MetricsRecord
            {
                Step = step, Loss = stepLoss, LearningRate = learningRate, GradientNorm = norm, BatchTokens = stepTokens,
                Tokens = tokensSeen, TokensPerSecond = tokensPerSecond, ElapsedSeconds = elapsedBefore + clock.Elapsed.TotalSeconds,
            });

            double? validation = null;
            bool isBest = false;
            bool evaluate = step == _options.Steps || (_options.EvalInterval > 0 && step % _options.EvalInterval == 0);
            if (evaluate && Evaluate() is double v)
            {
                validation = v;
                metrics.Write(new MetricsRecord
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
                LossPlot.Save(Path.Combine(_options.OutputDirectory, "loss.png"), metrics.Records, _options.RunName);
            }
            double elapsed = clock.Elapsed.TotalSeconds;
            double perStep = elapsed / Math.Max(1, losses.Count);
            progress?.Report(new TrainingProgress(step, _options.Steps, stepLoss, learningRate, tokensPerSecond,
                TimeSpan.FromSeconds(elapsedBefore + elapsed), TimeSpan.FromSeconds(perStep * (_options.Steps - step)), validation));

            bool checkpointDue = step == _options.Steps || stoppedEarly || isBest || cancellation.IsCancellationRequested
                || (_options.CheckpointInterval > 0 && step % _options.CheckpointInterval == 0);
            if (checkpointDue)
            {
                lastCheckpoint = SaveCheckpoint(step, tokensSeen, bestValidation, bestStep, elapsedBefore + clock.Elapsed.TotalSeconds, lastLoss, isBest);
            }
            if (stoppedEarly)
            {
                break;
            }
        }
        if (interrupted && (lastCheckpoint == null || _checkpoints.Latest == null || !lastCheckpoint.EndsWith(CheckpointDirectory.NameOf(step), StringComparison.Ordinal)))
        {
            lastCheckpoint = SaveCheckpoint(step, tokensSeen, bestValidation, bestStep, elapsedBefore + clock.Elapsed.TotalSeconds, lastLoss, false);
        }
        if (metrics.Records.Count > 0)
        {
            LossPlot.Save(Path.Combine(_options.OutputDirectory, "loss.png"), metrics.Records, _options.RunName);
        }
        return new TrainingResult(step, losses, bestValidation, bestStep, interrupted, stoppedEarly, lastCheckpoint);
    }

    /// <summary>Mean cross-entropy over the validation set, or null when there is none.</summary>
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

    private string SaveCheckpoint(int step, long tokensSeen, double bestValidation, int bestStep, double elapsed, double lastLoss, bool isBest)
    {
        var state = new TrainingState
        {
            Step = step,
            TokensSeen = tokensSeen,
            ElapsedSeconds = elapsed,
            Data = _data.SavePosition(),
            Config = TrainingState.ConfigNode(_model.Config),
            Options = TrainingState.ToNode(new { _options.RunName, _options.Steps, _options.Seed, Lora = _lora?.Settings }),
            BestValidationLoss = bestValidation,
            BestStep = bestStep,
            OptimizerSteps = _optimizer.StepCount,
            LastLoss = lastLoss,
        };
        return _checkpoints.Save(step, directory =>
        {
            FlatBufferFile.Write(Path.Combine(directory, WeightsFile), [(_lora != null ? "adapter" : "parameters", Trainable)]);
            FlatBufferFile.Write(Path.Combine(directory, OptimizerFile), [("m", _optimizer.M), ("v", _optimizer.V)]);
            state.Save(directory);
        }, isBest);
    }

    private TrainingState Restore(string directory)
    {
        TrainingState state = TrainingState.Load(directory);
        GptConfig config = state.ModelConfig;
        if (ConfigJson.Serialize(config with { Name = _model.Config.Name, Description = _model.Config.Description }) != ConfigJson.Serialize(_model.Config))
        {
            throw new SharpGptException($"{directory}: the checkpoint is for a different model architecture.");
        }
        FlatBufferFile.Read(Path.Combine(directory, WeightsFile), _lora != null ? "adapter" : "parameters", Trainable);
        FlatBufferFile.Read(Path.Combine(directory, OptimizerFile), "m", _optimizer.M);
        FlatBufferFile.Read(Path.Combine(directory, OptimizerFile), "v", _optimizer.V);
        _optimizer.StepCount = state.OptimizerSteps;
        _data.RestorePosition(state.Data);
        return state;
    }

    /// <summary>Loads only the weights of a checkpoint into a model (for export).</summary>
    public static void LoadWeights(string checkpoint, GptModel model) =>
        FlatBufferFile.Read(Path.Combine(checkpoint, WeightsFile), "parameters", model.Parameters);

    public void Dispose()
    {
        _graph.Dispose();
        _optimizer.Dispose();
    }
}
