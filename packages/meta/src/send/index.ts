export { parseGraphSendResponse, toGraphRequest, type GraphRequestOptions, type GraphSendRequest } from './request.ts';
export { fromGraphRequest, graphFieldOf, type FromGraphResult } from './from-graph.ts';
