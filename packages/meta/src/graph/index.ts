export {
  DEFAULT_GRAPH_TIMEOUT_MS,
  DEFAULT_GRAPH_URL,
  DEFAULT_GRAPH_VERSION,
  GraphClient,
  INSTAGRAM_PAGE_FIELDS,
  MESSENGER_PAGE_FIELDS,
  type GraphClientOptions,
  type SubscribedApp,
} from './client.ts';
export {
  GRAPH_ERROR_CLASSIFICATIONS,
  GraphError,
  classifyGraphError,
  graphErrorFromNetwork,
  graphErrorBody,
  graphErrorFromResponse,
  type GraphErrorClassification,
  type GraphErrorBodyFields,
  type GraphErrorFields,
} from './errors.ts';
