import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router';
import './i18n/index.ts';
import './styles.css';
import { SessionProvider } from './session.tsx';
import { App } from './app.tsx';

// Password-reset e-mails link to `<CONSOLE_URL>/#/reset?token=…`: the same page under its path.
if (location.hash.startsWith('#/reset')) {
  const query = location.hash.slice(location.hash.indexOf('?'));
  history.replaceState(null, '', `/reset-password${query.startsWith('?') ? query : ''}`);
}

const root = document.getElementById('root');
if (!root) throw new Error('no #root element');
createRoot(root).render(
  <StrictMode>
    <BrowserRouter>
      <SessionProvider>
        <App />
      </SessionProvider>
    </BrowserRouter>
  </StrictMode>,
);
