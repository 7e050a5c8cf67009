from .segments import RfmGroup, RfmScore, Segment

__all__ = ["RfmGroup", "RfmScore", "Segment"]
