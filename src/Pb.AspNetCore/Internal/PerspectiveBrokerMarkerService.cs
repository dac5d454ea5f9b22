namespace Pb.AspNetCore;

/// <summary>Registered by AddPerspectiveBroker, so MapPerspectiveBroker can tell when it was forgotten.</summary>
internal sealed class PerspectiveBrokerMarkerService
{
}
