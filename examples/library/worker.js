// The engine worker of the example: one call. `?models=` (set by main.js) says where the models are served.
import { serveMMambaEngine } from '../../dist-lib/mmamba-web.js';

serveMMambaEngine({ modelBaseUrl: new URL(self.location.href).searchParams.get('models') ?? '/models/' });
