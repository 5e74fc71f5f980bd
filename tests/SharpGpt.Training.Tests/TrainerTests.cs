using SharpGpt.Model;
using SharpGpt.Model.Training;
using SharpGpt.Tensors.Random;
using SharpGpt.Training.Checkpoints;
using SharpGpt.Training.Data;
using SharpGpt.Training.Metrics;
using Xunit;

namespace SharpGpt.Training.Tests;

public class TrainerTests(TrainingFixture fixture) : IClassFixture<TrainingFixture>
{
    private (GptModel Model, PretrainingData Data) Create(int batch = 4, int time = 16)
    {
        var model = new GptModel(TrainingFixture.TinyConfig);
        model.InitializeGpt2(new Rng(3));
        return (model, new PretrainingData(TokenDataset.Open(fixture.DataDirectory), batch, time, seed: 9, validationSequences: 8));
    }

    private static TrainerOptions Options(string output, int steps) => new()
    {
        OutputDirectory = output, Steps = steps, AccumulationSteps = 2, LearningRate = 3e-3, WarmupSteps = 3,
        EvalInterval = 4, CheckpointInterval = 5, KeepCheckpoints = 2, Seed = 9,
    };

    [Fact]
    public void ResumedRunGivesBitIdenticalLosses()
    {
        // Uninterrupted: 12 steps.
        string full = fixture.NewOutput();
        var (modelA, dataA) = Create();
        using (modelA)
        using (dataA)
        using (var trainer = new Trainer(modelA, dataA, Options(full, 12)))
        {
            var expected = trainer.Run().Losses;

            // Interrupted after step 7 (as Ctrl-C would), then resumed from the checkpoint it wrote.
            string split = fixture.NewOutput();
            var (modelB, dataB) = Create();
            using var cancel = new CancellationTokenSource();
            var progress = new Progress(p => { if (p.Step == 7) cancel.Cancel(); });
            TrainingResult first;
            using (modelB)
            using (dataB)
            using (var interrupted = new Trainer(modelB, dataB, Options(split, 12)))
            {
                first = interrupted.Run(cancel.Token, progress);
            }
            Assert.True(first.Interrupted);
            Assert.Equal(7, first.Step);
            Assert.EndsWith(CheckpointDirectory.NameOf(7), first.LastCheckpoint);

            // A fresh process: new model (different init), new data reader, resume.
            var model = new GptModel(TrainingFixture.TinyConfig);
            model.InitializeGpt2(new Rng(12345));
            using var data = new PretrainingData(TokenDataset.Open(fixture.DataDirectory), 4, 16, seed: 9, validationSequences: 8);
            using var resumed = new Trainer(model, data, Options(split, 12));
            TrainingResult second = resumed.Run(resume: first.LastCheckpoint);
            double[] combined = [.. first.Losses, .. second.Losses];
            Assert.Equal(expected.Count, combined.Length);
            for (int i = 0; i < combined.Length; i++)
            {
                Assert.True(BitConverter.DoubleToInt64Bits(expected[i]) == BitConverter.DoubleToInt64Bits(combined[i]),
                    $"step {i + 1}: {combined[i]:R} vs uninterrupted {expected[i]:R}");
            }
            Assert.Equal(modelA.Parameters.Span.ToArray(), model.Parameters.Span.ToArray());
            // The metrics log of the resumed run matches the uninterrupted one line for line.
            var a = MetricsLog.ReadAll(Path.Combine(full, MetricsLog.FileName)).Select(r => (r.Step, r.Loss, r.ValidationLoss)).ToArray();
            var b = MetricsLog.ReadAll(Path.Combine(split, MetricsLog.FileName)).Select(r => (r.Step, r.Loss, r.ValidationLoss)).ToArray();
            Assert.Equal(a, b);
            model.Dispose();
        }
    }

    [Fact]
    public void TinyModelOverfitsOneBatch()
    {
        var model = new GptModel(TrainingFixture.TinyConfig);
        model.InitializeGpt2(new Rng(1));
        using var _ = model;
        var data = new RepeatedBatch(new PretrainingData(TokenDataset.Open(fixture.DataDirectory), 2, 16, 1, 0).Next());
        using var trainer = new Trainer(model, data, new TrainerOptions
        {
            OutputDirectory = fixture.NewOutput(), Steps = 60, LearningRate = 1e-2, WarmupSteps = 0, EvalInterval = 0, CheckpointInterval = 0,
            Adam = new SharpGpt.Training.Optimization.AdamWSettings(WeightDecay: 0),
        });
        var losses = trainer.Run().Losses;
        // From ln(50257) ≈ 10.8 to memorised: the 32 targets of the batch become near-certain.
        Assert.True(losses[0] > 9, $"first loss {losses[0]}");
        Assert.True(losses[^1] < 0.5, $"final loss {losses[^1]}");
    }

    [Fact]
    public void NanLossStopsWithAClearMessageAndKeepsTheLastCheckpoint()
    {
        string output = fixture.NewOutput();
        var (model, data) = Create();
        using (model)
        using (data)
        {
            using (var trainer = new Trainer(model, data, Options(output, 5)))
            {
                trainer.Run();
            }
            string good = new CheckpointDirectory(Path.Combine(output, "checkpoints")).Latest!;
            model.Parameters.Span[5] = float.NaN; // poison the embedding
            using var poisoned = new Trainer(model, data, Options(output, 8));
            var ex = Assert.Throws<TrainingDivergedException>(() => poisoned.Run());
            Assert.Contains("NaN", ex.Message);
            Assert.Contains(good, ex.Message);
            Assert.Equal(good, new CheckpointDirectory(Path.Combine(output, "checkpoints")).Latest);
        }
    }

    private sealed class Progress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }

    /// <summary>The same micro-batch forever.</summary>
    private sealed class RepeatedBatch(MicroBatch batch) : ITrainingData
    {
        public int MaxTime => batch.Time;
        public int MicroBatchSize => batch.Batch;
        public MicroBatch Next() => batch;
        public IEnumerable<MicroBatch> Validation() => [];
        public System.Text.Json.Nodes.JsonNode SavePosition() => new System.Text.Json.Nodes.JsonObject();
        public void RestorePosition(System.Text.Json.Nodes.JsonNode position) { }
    }
}
