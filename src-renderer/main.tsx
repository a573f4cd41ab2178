import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { resolveApi } from './api';
import { App } from './App';
import { StoreContext } from './state/context';
import { DashboardStore } from './state/store';
import './styles.css';

async function boot(): Promise<void> {
  const root = createRoot(document.getElementById('root') as HTMLElement);
  try {
    const api = await resolveApi();
    const store = new DashboardStore(api);
    root.render(
      <StrictMode>
        <StoreContext.Provider value={store}>
          <App />
        </StoreContext.Provider>
      </StrictMode>,
    );
    await store.start();
  } catch (error) {
    root.render(
      <main className="app-main">
        <div className="card error-card" role="alert">
          <h1>Minion Agent</h1>
          <p>{error instanceof Error ? error.message : String(error)}</p>
        </div>
      </main>,
    );
  }
}

void boot();
