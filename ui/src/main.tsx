import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
// The base sheet (tokens, resets) comes first: every component's own sheet builds on it.
import './base.css';
import { App } from './App';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
