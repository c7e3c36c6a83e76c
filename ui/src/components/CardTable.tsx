// The table every list page shows: a header row, one row per item, and on narrow windows
// each row becomes a card whose cells carry their column's name (data-label). Columns are
// described once, so the header and the cards' labels cannot drift apart.
import { Fragment, type HTMLAttributes, type MouseEvent, type ReactNode } from 'react';
import { Link, navigate } from '../router';
import './CardTable.css';

export interface Column<T> {
  /** The header, and the cell's label when rows become cards. */
  label: string;
  /** The row's name, linked to the row's page (href); cell then adds what follows it. */
  title?(row: T): ReactNode;
  cell?(row: T): ReactNode;
  /** Classes of the cells (e.g. 'nowrap', 'mono small'). */
  className?: string;
  /** A column of buttons: right-aligned, no card label. */
  actions?: boolean;
  /** The header names the column for screen readers only. */
  hideHeader?: boolean;
}

export function CardTable<T>({
  columns,
  rows = [],
  rowKey = (row) => (row as { id?: string }).id ?? '',
  href,
  onRowClick = href && ((row) => navigate(href(row))),
  rowProps,
  detail,
  className,
  wrap = true,
  children,
}: {
  columns: Column<T>[];
  rows?: T[];
  /** Defaults to the row's id. */
  rowKey?(row: T): string | number;
  /** Each row's own page: the whole row opens it, and the title column links to it. */
  href?(row: T): string;
  /** Makes rows clickable (the whole row opens the item). */
  onRowClick?(row: T, e: MouseEvent<HTMLTableRowElement>): void;
  rowProps?(row: T): HTMLAttributes<HTMLTableRowElement>;
  /** A full-width row under the row, when it returns something. */
  detail?(row: T): ReactNode;
  className?: string;
  /** Frame the table (false inside a card). */
  wrap?: boolean;
  /** Rows drawn by the caller, instead of rows and cells. */
  children?: ReactNode;
}) {
  const table = (
    <table className={`table table-cards${onRowClick ? ' table-click' : ''}${className ? ' ' + className : ''}`}>
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c.label} className={c.actions ? 'col-actions' : undefined} aria-label={c.hideHeader ? c.label : undefined}>
              {c.hideHeader ? null : c.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {children ??
          rows.map((row, i) => {
            const d = detail?.(row);
            return (
              <Fragment key={rowKey(row) || i}>
                <tr onClick={onRowClick && ((e) => onRowClick(row, e))} {...rowProps?.(row)}>
                  {columns.map((c) => (
                    <td key={c.label} data-label={c.actions ? undefined : c.label} className={(c.actions ? 'col-actions' : c.className) || undefined}>
                      {c.title && href && (
                        <Link to={href(row)} className="cell-title">
                          {c.title(row)}
                        </Link>
                      )}
                      {c.cell?.(row)}
                    </td>
                  ))}
                </tr>
                {d ? (
                  <tr className="detail-row">
                    <td colSpan={columns.length}>{d}</td>
                  </tr>
                ) : null}
              </Fragment>
            );
          })}
      </tbody>
    </table>
  );
  return wrap ? <div className="table-wrap">{table}</div> : table;
}
