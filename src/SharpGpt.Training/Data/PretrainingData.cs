using System.Text.Json.Nodes;

namespace SharpGpt.Training.Data;

/// <summary>Pretraining batches from a prepared dataset: random windows of T + 1 tokens, without replacement per epoch.</summary>
public sealed class PretrainingData : ITrainingData, IDisposable
{
    private readonly TokenDataset _dataset;
    private readonly SequenceSampler _sampler;
    private readonly int _validationSequences;

    public PretrainingData(TokenDataset dataset, int microBatchSize, int time, ulong seed, int validationSequences, int rank = 0, int ranks = 1)
    {
        _dataset = dataset;
        MicroBatchSize = microBatchSize;
        MaxTime = time;
        Rank = rank;
        Ranks = ranks;
        _sampler = new SequenceSampler(dataset.Train, time, seed);
        _validationSequences = validationSequences;
    }

    public int MaxTime { get; }

    public int MicroBatchSize { get; }

    public int Rank { get; }

    public int Ranks { get; }

    public long SequencesPerEpoch => _sampler.SequencesPerEpoch;

    public MicroBatch Next()
    {
        int[] inputs = new int[MicroBatchSize * MaxTime], targets = new int[MicroBatchSize * MaxTime];
        _sampler.NextBatch(inputs, targets, MicroBatchSize, Rank, Ranks);
        return new MicroBatch(inputs, targets, MicroBatchSize, MaxTime);
    }

    public IEnumerable<MicroBatch> Validation()
    {
        if (_dataset.Validation.Count <= MaxTime)
        {
            yield break;
        }
        foreach ((int[] inputs, int[] targets) in SequenceSampler.Sequential(_dataset.Validation, MaxTime, MicroBatchSize, _validationSequences))
        {
            yield return new MicroBatch(inputs, targets, inputs.Length / MaxTime, MaxTime);
        }
    }

    public JsonNode SavePosition() => new JsonObject { ["epoch"] = _sampler.Position.Epoch, ["index"] = _sampler.Position.Index };

    public void RestorePosition(JsonNode position) =>
        _sampler.Position = new SamplerPosition(position["epoch"]!.GetValue<long>(), position["index"]!.GetValue<long>());

    public void Dispose() => _dataset.Dispose();
}
