namespace Pb.AspNetCore;

/// <summary>Placeholder for the ASP.NET Core integration, which arrives with its own issue.</summary>
internal static class PerspectiveBrokerMarker
{
}
