using System.Text.Json.Serialization;
using SharpGpt.Server.Errors;
using SharpGpt.Server.Hosting;

namespace SharpGpt.Server.Api.Models;

public sealed record ModelObject(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("owned_by")] string OwnedBy);

public sealed record ModelList([property: JsonPropertyName("object")] string Object, [property: JsonPropertyName("data")] IReadOnlyList<ModelObject> Data);

/// <summary>GET /v1/models and /v1/models/{id}.</summary>
public static class ModelsApi
{
    public static void MapModelsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/models", (ModelRegistry models) =>
            Results.Json(new ModelList("list", models.Models.Select(ToObject).ToArray()), ServerJson.Options))
            .WithName("ListModels").Produces<ModelList>();
        app.MapGet("/v1/models/{id}", (string id, ModelRegistry models) =>
            models.TryGet(id, out ServedModel model)
                ? Results.Json(ToObject(model), ServerJson.Options)
                : throw new ApiError(404, $"The model '{id}' does not exist.", param: "model", code: "model_not_found"))
            .WithName("RetrieveModel").Produces<ModelObject>().Produces<ErrorBody>(404);
    }

    private static ModelObject ToObject(ServedModel model) => new(model.Id, "model", model.Created, "sharpgpt");
}
