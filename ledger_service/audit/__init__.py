"""Audit over the chain index and the meter data: reconcile with the chain, trace reports and
assets, drill down a park's emissions, and who may see what.

- `commitment`: the level-5 report commitment over anchor roots.
- `reconcile`: every difference between the index and the chain's views; `meter_check`: anchored windows
  recomputed from their readings, stored documents from their sealed bytes, against the chain.
- `report_trace`: report -> versions -> verification -> finalization -> anchors -> readings -> devices.
- `asset_trace`: an allowance year or credit batch from issuance to its current holders.
- `drilldown`: park -> enterprises -> facilities -> workshops -> devices, with totals checked
  against the anchored sums.
- `access`: a regulator sees everything, a member its own organisation's data.
- `results`: the typed results (on-chain facts carry tx hash, block and UTC time).
"""
