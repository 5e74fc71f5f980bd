using System.Text.Json.Nodes;
using SharpGpt.Tensors.Random;
using SharpGpt.Training.Data;

namespace SharpGpt.Training.FineTuning;

/// <summary>
/// Fine-tuning micro-batches: examples in a seeded order per epoch, each batch padded to its longest example
/// (padding carries no loss). Validation is the held-out examples in a fixed order.
/// </summary>
public sealed class FineTuneData : ITrainingData
{
    private readonly IReadOnlyList<FineTuneExample> _train;
    private readonly IReadOnlyList<FineTuneExample> _validation;
    private readonly ulong _seed;
    private readonly int _endOfText;
    private int[] _order = [];
    private long _orderEpoch = -1;
    private long _epoch, _index;

    public FineTuneData(IReadOnlyList<FineTuneExample> train, IReadOnlyList<FineTuneExample> validation, int microBatchSize, int endOfText, ulong seed)
    {
        if (train.Count == 0)
        {
            throw new Model.SharpGptException("No training examples are left after the validation split.");
        }
        _train = train;
        _validation = validation;
        MicroBatchSize = microBatchSize;
        _endOfText = endOfText;
        _seed = seed;
        MaxTime = train.Concat(validation).Max(e => e.Ids.Length - 1);
    }

    public int MaxTime { get; }

    public int MicroBatchSize { get; }

    public int TrainCount => _train.Count;

    public int ValidationCount => _validation.Count;

    public MicroBatch Next()
    {
        var examples = new FineTuneExample[MicroBatchSize];
        for (int i = 0; i < MicroBatchSize; i++)
        {
            if (_index >= _train.Count)
            {
                _epoch++;
                _index = 0;
            }
            if (_orderEpoch != _epoch)
            {
                _order = Enumerable.Range(0, _train.Count).ToArray();
                new Rng(_seed * 0x9E3779B97F4A7C15UL + (ulong)_epoch).Shuffle(_order.AsSpan());
                _orderEpoch = _epoch;
            }
            examples[i] = _train[_order[_index++]];
        }
        return Build(examples);
    }

    public IEnumerable<MicroBatch> Validation() => _validation.Chunk(MicroBatchSize).Select(Build);

    private MicroBatch Build(FineTuneExample[] examples)
    {
        int time = examples.Max(e => e.Ids.Length - 1);
        int[] inputs = new int[examples.Length * time], targets = new int[examples.Length * time];
        for (int b = 0; b < examples.Length; b++)
        {
            examples[b].Fill(inputs.AsSpan(b * time, time), targets.AsSpan(b * time, time), _endOfText);
        }
        return new MicroBatch(inputs, targets, examples.Length, time);
    }

    public JsonNode SavePosition() => new JsonObject { ["epoch"] = _epoch, ["index"] = _index };

    public void RestorePosition(JsonNode position)
    {
        _epoch = position["epoch"]!.GetValue<long>();
        _index = position["index"]!.GetValue<long>();
    }
}
