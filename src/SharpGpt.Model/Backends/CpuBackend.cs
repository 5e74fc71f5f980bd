using SharpGpt.Model.Inference;
using SharpGpt.Model.Training;

namespace SharpGpt.Model.Backends;

/// <summary>SharpGPT's own SIMD engine (SharpGpt.Tensors) on the host CPU.</summary>
public sealed class CpuBackend : IComputeBackend
{
    public static CpuBackend Instance { get; } = new();

    public string Name => "cpu";

    public ITrainingGraph CreateTrainingGraph(GptModel model, int maxBatch, int maxTime, IParameterStorage? storage = null) =>
        new TrainingGraph(model, maxBatch, maxTime, storage);

    public IInferenceSession CreateInferenceSession(GptModel model, int slots = 1, int maxTokensPerStep = 256, int? maxContext = null) =>
        new InferenceSession(model, slots, maxTokensPerStep, maxContext);
}
