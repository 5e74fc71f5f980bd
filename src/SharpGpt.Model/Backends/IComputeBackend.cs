using SharpGpt.Model.Inference;
using SharpGpt.Model.Training;

namespace SharpGpt.Model.Backends;

/// <summary>
/// The seam between SharpGPT and the hardware that runs a model. Training, serving, evaluation and the CLI ask
/// a backend for their <see cref="ITrainingGraph"/> and <see cref="IInferenceSession"/> and never name the CPU
/// classes, so a CUDA backend (kernels on the device, parameters mirrored there, logits and gradients copied
/// back at the seam) slots in without touching them. Parameters stay in the model's flat host buffer layout
/// (<see cref="ParameterLayout"/>), which is also what checkpoints, ZeRO shards and the optimizer see.
/// </summary>
public interface IComputeBackend
{
    /// <summary>Short name, as in SHARPGPT_BACKEND.</summary>
    string Name { get; }

    /// <param name="storage">Where parameters and gradients live (ZeRO shards); null for full host buffers.</param>
    ITrainingGraph CreateTrainingGraph(GptModel model, int maxBatch, int maxTime, IParameterStorage? storage = null);

    IInferenceSession CreateInferenceSession(GptModel model, int slots = 1, int maxTokensPerStep = 256, int? maxContext = null);
}
