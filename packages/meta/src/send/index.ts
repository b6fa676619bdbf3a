export { parseGraphSendResponse, toGraphRequest, type GraphRequestOptions, type GraphSendRequest } from './request.ts';
