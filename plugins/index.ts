export { filterTables, type FilterTablesOptions } from './filter-tables.ts';
export { filterColumns, type FilterColumnsOptions } from './filter-columns.ts';
export { mapColumns, type MapColumnsOptions } from './map-columns.ts';
export { computedFields, type ComputedFieldsOptions } from './computed-fields.ts';
export { softDeleteToDelete, type SoftDeleteOptions } from './soft-delete.ts';
export { routeTables, type RouteTablesOptions, type RouteRule } from './route-tables.ts';
export { mapCells } from './rows.ts';
