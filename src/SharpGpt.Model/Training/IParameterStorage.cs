using SharpGpt.Tensors.Memory;

namespace SharpGpt.Model.Training;

/// <summary>
/// Where the training graph finds each unit's parameters and puts its gradients (units: see
/// <see cref="ParameterLayout.Units"/>). The default keeps everything in full flat buffers; ZeRO implementations
/// gather a unit's parameters just in time and reduce-scatter its gradients as soon as backward is done with it.
/// Pointers address the unit's first float; tensors keep their offsets relative to the unit start.
/// </summary>
public unsafe interface IParameterStorage
{
    /// <summary>The unit's parameters, valid until <see cref="ReleaseParameters"/>.</summary>
    float* AcquireParameters(int unit);

    void ReleaseParameters(int unit);

    /// <summary>Where backward accumulates the unit's gradients, valid until <see cref="GradientsReady"/>.</summary>
    float* AcquireGradients(int unit);

    /// <summary>Backward has added everything it will to this unit's gradients for this micro-batch.</summary>
    void GradientsReady(int unit);
}

/// <summary>All parameters and gradients in full flat buffers: single-process training and ZeRO stages 0–1.</summary>
public sealed unsafe class FullParameterStorage(GptModel model, NativeBuffer gradients) : IParameterStorage
{
    public NativeBuffer Gradients => gradients;

    public float* AcquireParameters(int unit) => model.Parameters.Pointer + model.Layout.Units[unit].Start;

    public void ReleaseParameters(int unit)
    {
    }

    public float* AcquireGradients(int unit) => gradients.Pointer + model.Layout.Units[unit].Start;

    public void GradientsReady(int unit)
    {
    }
}
